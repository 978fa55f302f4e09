-- Opens a Markdown file that is in no Jekyll site and writes whether a client attached.
local ok, error = pcall(function()
  vim.cmd.edit(vim.fn.fnameescape(assert(os.getenv('LETTERHEAD_REVIEW'))))
  vim.wait(2000, function()
    return #vim.lsp.get_clients() > 0
  end, 50)
  local file = assert(io.open(assert(os.getenv('LETTERHEAD_OUT')), 'w'))
  file:write(vim.json.encode({
    filetype = vim.bo.filetype,
    clients = #vim.lsp.get_clients(),
    root = require('letterhead').root(0) or vim.NIL,
  }))
  file:close()
end)
if not ok then
  io.stderr:write(tostring(error) .. '\n')
end
vim.cmd('qall!')
