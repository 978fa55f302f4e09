-- The user commands, for `vim.lsp.enable('letterhead')` users too (setup() makes the same ones).
if vim.g.loaded_letterhead ~= nil or vim.fn.has('nvim-0.10') == 0 then
  return
end
vim.g.loaded_letterhead = true
require('letterhead').create_commands()
