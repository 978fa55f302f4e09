-- A minimal init for the editor tests: only the plugin from editors/neovim, set up in one of
-- three ways (LETTERHEAD_NVIM_MODE), with the server run by the project's Python.
--   enable: Neovim 0.11's own `vim.lsp.config` + `vim.lsp.enable`, no setup() (lsp/letterhead.lua)
--   setup:  require('letterhead').setup(), which uses vim.lsp.config/enable on 0.11
--   legacy: setup() as on Neovim 0.10: vim.lsp.config and vim.lsp.enable hidden, vim.lsp.start
local plugin = assert(os.getenv('LETTERHEAD_NVIM_PLUGIN'), 'LETTERHEAD_NVIM_PLUGIN unset')
local python = assert(os.getenv('LETTERHEAD_PYTHON'), 'LETTERHEAD_PYTHON unset')
local mode = os.getenv('LETTERHEAD_NVIM_MODE') or 'setup'

vim.opt.runtimepath = { plugin, vim.env.VIMRUNTIME }
vim.opt.packpath = { vim.env.VIMRUNTIME }
vim.opt.swapfile = false
vim.opt.shadafile = 'NONE'
vim.opt.more = false

if mode == 'enable' then
  vim.lsp.config('letterhead', { cmd = { python, '-m', 'letterhead', 'serve' } })
  vim.lsp.enable('letterhead')
elseif mode == 'setup' then
  require('letterhead').setup({ python = python, open_quickfix = true })
elseif mode == 'legacy' then
  vim.lsp.config = nil
  vim.lsp.enable = nil
  require('letterhead').setup({ python = python })
else
  error('unknown LETTERHEAD_NVIM_MODE ' .. mode)
end
