--- `:checkhealth letterhead`: the Neovim version, the letterhead program and the client.
local M = {}

function M.check()
  local health = vim.health
  health.start('letterhead')
  if vim.fn.has('nvim-0.11') == 1 then
    health.ok('Neovim 0.11+: vim.lsp.config / vim.lsp.enable are available')
  elseif vim.fn.has('nvim-0.10') == 1 then
    health.ok('Neovim 0.10: use require("letterhead").setup()')
  else
    health.error('letterhead needs Neovim 0.10 or later')
  end
  local program = require('letterhead').program()
  if vim.fn.executable(program[1]) == 1 then
    local outcome = vim.system(vim.list_extend(vim.deepcopy(program), { '--version' }), { text = true }):wait(10000)
    if outcome.code == 0 then
      health.ok(('%s: %s'):format(table.concat(program, ' '), vim.trim(outcome.stdout or '')))
    else
      health.error(('%s --version failed: %s'):format(table.concat(program, ' '), vim.trim(outcome.stderr or '')))
    end
  else
    health.error(('%s is not executable'):format(program[1]), {
      'pip install letterhead, or setup({ cmd = "/path/to/letterhead" }) / setup({ python = "/path/to/python" })',
    })
  end
  local root = require('letterhead').root(0)
  if root then
    health.info('site of the current buffer: ' .. root)
  end
  for _, client in ipairs(vim.lsp.get_clients({ name = 'letterhead' })) do
    health.info(('client %d: root %s, position encoding %s'):format(client.id, client.root_dir or '?', client.offset_encoding))
  end
end

return M
