-- letterhead's language server for `vim.lsp.enable('letterhead')` (Neovim 0.11+).
-- Override any field with `vim.lsp.config('letterhead', { ... })`, e.g. the command:
--   vim.lsp.config('letterhead', { cmd = { '/path/to/venv/bin/letterhead', 'serve' } })
-- It attaches to Markdown buffers inside a Jekyll site (a folder above holds `_config.yml`).
---@type vim.lsp.Config
return require('letterhead').server_config()
