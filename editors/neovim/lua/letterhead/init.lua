--- letterhead for Neovim: the language server's configuration, site root detection, and the
--- commands that run letterhead's command line over a whole site (taxonomy report, site check).
---
--- On Neovim 0.11+ `setup()` uses `vim.lsp.config` and `vim.lsp.enable`; on 0.10 (or with
--- `legacy = true`) it starts the client itself with `vim.lsp.start` from a FileType autocommand.
local M = {}

local uv = vim.uv or vim.loop

--- Call a client method: `client:name(...)` on 0.11+, `client.name(...)` on 0.10.
---@param client vim.lsp.Client
---@param name string
local function call(client, name, ...)
  if vim.fn.has('nvim-0.11') == 1 then
    return client[name](client, ...)
  end
  return client[name](...)
end

---@class letterhead.Options
---@field cmd? string|string[] the letterhead program and any leading arguments (default: `letterhead` on PATH)
---@field python? string a Python with letterhead installed: runs `python -m letterhead`
---@field filetypes? string[] the filetypes the server attaches to
---@field debounce_ms? integer how long the server waits after a change before checking again
---@field trace? 'off'|'messages'|'verbose' how much the server logs (`:LspLog`)
---@field open_quickfix? boolean open the quickfix window after `:LetterheadCheck`
---@field legacy? boolean start with `vim.lsp.start` even where `vim.lsp.config` exists
---@field on_attach? fun(client: vim.lsp.Client, bufnr: integer)
---@field capabilities? table extra client capabilities
M.defaults = {
  cmd = nil,
  python = nil,
  filetypes = { 'markdown' },
  debounce_ms = 150,
  trace = 'off',
  open_quickfix = true,
  legacy = false,
  on_attach = nil,
  capabilities = nil,
}

---@type letterhead.Options
M.options = vim.deepcopy(M.defaults)

M.CONFIG_FILE = '_config.yml'

-- -- the program ---------------------------------------------------------------------------

--- The letterhead program from the options alone: `{ 'letterhead' }` or `{ python, '-m', 'letterhead' }`.
---@return string[]
local function configured_program()
  local options = M.options
  if options.python and options.python ~= '' then
    return { vim.fn.expand(options.python), '-m', 'letterhead' }
  end
  if type(options.cmd) == 'string' and options.cmd ~= '' then
    return { vim.fn.expand(options.cmd) }
  end
  if type(options.cmd) == 'table' and #options.cmd > 0 then
    return vim.deepcopy(options.cmd)
  end
  return { 'letterhead' }
end

--- The letterhead program for the command line: from `setup()`, else from the server command of
--- a `vim.lsp.config('letterhead', { cmd = { ..., 'serve' } })`, else `letterhead` on PATH.
---@return string[]
function M.program()
  if M.options.python or M.options.cmd then
    return configured_program()
  end
  if vim.lsp.config ~= nil then
    local ok, config = pcall(function()
      return vim.lsp.config.letterhead
    end)
    local cmd = ok and config and config.cmd or nil
    if type(cmd) == 'table' and cmd[#cmd] == 'serve' then
      return vim.list_slice(cmd, 1, #cmd - 1)
    end
  end
  return configured_program()
end

-- -- sites --------------------------------------------------------------------------------

--- The site root of a buffer or a path: the nearest folder upward holding `_config.yml`.
---@param source? integer|string a buffer number (default: the current one) or a path
---@return string?
function M.root(source)
  local path = source
  if source == nil or type(source) == 'number' then
    local bufnr = (source == nil or source == 0) and vim.api.nvim_get_current_buf() or source
    ---@cast bufnr integer
    if not vim.api.nvim_buf_is_valid(bufnr) then
      return nil
    end
    path = vim.api.nvim_buf_get_name(bufnr)
    if path == '' or vim.bo[bufnr].buftype ~= '' then
      return nil
    end
  end
  ---@cast path string
  local found = vim.fs.find(M.CONFIG_FILE, {
    upward = true,
    type = 'file',
    path = vim.fs.dirname(vim.fs.normalize(vim.fn.fnamemodify(path, ':p'))),
    limit = 1,
  })[1]
  return found and vim.fs.dirname(found) or nil
end

--- The site to act on: the argument, the current buffer's site, or the one at or above the cwd.
---@param argument? string
---@return string?
local function site_for(argument)
  if argument and argument ~= '' then
    local path = vim.fs.normalize(vim.fn.fnamemodify(vim.fn.expand(argument), ':p'))
    path = (path:gsub('(.)/$', '%1'))
    if vim.fn.isdirectory(path) == 1 and uv.fs_stat(path .. '/' .. M.CONFIG_FILE) then
      return path
    end
    return M.root(path)
  end
  return M.root(0) or M.root(uv.cwd() .. '/.')
end

-- -- the language server ------------------------------------------------------------------

--- The settings the server reads (`workspace/configuration`, section `letterhead`).
local function server_settings()
  return {
    letterhead = {
      diagnostics = { debounceMs = M.options.debounce_ms },
      trace = { server = M.options.trace },
    },
  }
end

--- Pull diagnostics again for every buffer of the client (the server asks once it has indexed
--- the site, or when another file changed what a document's findings depend on).
---@param ctx lsp.HandlerContext
local function diagnostic_refresh(_, _, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if client == nil then
    return vim.NIL
  end
  for bufnr in pairs(client.attached_buffers) do
    if vim.api.nvim_buf_is_loaded(bufnr) then
      call(client, 'request', 'textDocument/diagnostic', {
        textDocument = vim.lsp.util.make_text_document_params(bufnr),
      }, nil, bufnr)
    end
  end
  return vim.NIL
end

--- The client configuration, as `vim.lsp.config` takes it (0.11+) and `vim.lsp.start` (0.10).
---@return vim.lsp.Config
function M.server_config()
  local settings = server_settings()
  local capabilities = vim.tbl_deep_extend('force', {
    workspace = { diagnostics = { refreshSupport = true } },
  }, M.options.capabilities or {})
  return {
    name = 'letterhead',
    cmd = vim.list_extend(configured_program(), { 'serve' }),
    filetypes = M.options.filetypes,
    root_markers = { M.CONFIG_FILE },
    -- Only buffers inside a Jekyll site: no `_config.yml` above the file, no client.
    root_dir = function(bufnr, on_dir)
      local root = M.root(bufnr)
      if root then
        on_dir(root)
      end
    end,
    settings = settings,
    init_options = settings.letterhead,
    capabilities = capabilities,
    handlers = { ['workspace/diagnostic/refresh'] = diagnostic_refresh },
    on_attach = M.options.on_attach,
  }
end

--- Start (or reuse) the client for a buffer, the 0.10 way.
---@param bufnr integer
---@return integer? client_id
function M.start(bufnr)
  local root = M.root(bufnr)
  if root == nil then
    return nil
  end
  local config = M.server_config()
  config.root_dir = root
  config.workspace_folders = { { uri = vim.uri_from_fname(root), name = root } }
  return vim.lsp.start(config, { bufnr = bufnr })
end

local legacy_group = nil ---@type integer?

--- Configure and enable letterhead. Works on Neovim 0.10 and later.
---@param options? letterhead.Options
function M.setup(options)
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), options or {})
  M.create_commands()
  if vim.lsp.config ~= nil and vim.lsp.enable ~= nil and not M.options.legacy then
    vim.lsp.config('letterhead', M.server_config())
    vim.lsp.enable('letterhead')
    return
  end
  legacy_group = vim.api.nvim_create_augroup('letterhead', { clear = true })
  vim.api.nvim_create_autocmd('FileType', {
    group = legacy_group,
    pattern = M.options.filetypes,
    callback = function(args)
      M.start(args.buf)
    end,
  })
  -- Buffers already open when setup() runs (a lazy-loaded plugin, say).
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if
      vim.api.nvim_buf_is_loaded(bufnr)
      and vim.tbl_contains(M.options.filetypes, vim.bo[bufnr].filetype)
    then
      M.start(bufnr)
    end
  end
end

-- -- the command line ---------------------------------------------------------------------

--- Run `letterhead ARGS...` in `cwd`; `on_done(outcome)` runs on the main loop.
---@param arguments string[]
---@param cwd string
---@param on_done fun(outcome: vim.SystemCompleted)
---@return vim.SystemObj?
local function run(arguments, cwd, on_done)
  local argv = vim.list_extend(M.program(), arguments)
  local ok, process = pcall(vim.system, argv, { cwd = cwd, text = true }, function(outcome)
    vim.schedule(function()
      on_done(outcome)
    end)
  end)
  if not ok then
    vim.notify(('letterhead: could not run %s: %s'):format(argv[1], process), vim.log.levels.ERROR)
    return nil
  end
  return process
end

--- The byte column of code point `points` in `line` (the JSON report counts code points).
---@param line string?
---@param points integer
---@return integer
local function byte_column(line, points)
  if line == nil then
    return points
  end
  local byte, seen = 0, 0
  while seen < points and byte < #line do
    byte = byte + 1
    -- skip the continuation bytes (10xxxxxx) of this code point
    while byte < #line and bit.band(line:byte(byte + 1), 0xC0) == 0x80 do
      byte = byte + 1
    end
    seen = seen + 1
  end
  return byte + (points - seen)
end

local QUICKFIX_TYPES = { error = 'E', warning = 'W', info = 'I', hint = 'N' }

--- Quickfix items from `letterhead check --format json` output.
---@param root string
---@param report { findings: table[] }
---@return vim.quickfix.entry[]
function M.quickfix_items(root, report)
  local items, lines_of = {}, {}
  for _, finding in ipairs(report.findings or {}) do
    local file = root .. '/' .. finding.path
    if lines_of[file] == nil then
      local ok, lines = pcall(vim.fn.readfile, file)
      lines_of[file] = ok and lines or {}
    end
    local lines = lines_of[file]
    local start, finish = finding.range.start, finding.range['end']
    table.insert(items, {
      filename = file,
      lnum = start.line + 1,
      col = byte_column(lines[start.line + 1], start.character) + 1,
      end_lnum = finish.line + 1,
      end_col = byte_column(lines[finish.line + 1], finish.character) + 1,
      type = QUICKFIX_TYPES[finding.severity] or 'W',
      text = ('%s %s'):format(finding.code, finding.message),
      user_data = { code = finding.code, name = finding.name },
    })
  end
  return items
end

--- `:LetterheadCheck [SITE]`: check the whole site into the quickfix list.
---@param argument? string
---@return vim.SystemObj?
function M.check(argument)
  local root = site_for(argument)
  if root == nil then
    vim.notify('letterhead: no Jekyll site (a folder with _config.yml) here', vim.log.levels.WARN)
    return nil
  end
  return run({ 'check', '--format', 'json', root }, root, function(outcome)
    if outcome.code ~= 0 and outcome.code ~= 1 then
      vim.notify('letterhead check failed: ' .. vim.trim(outcome.stderr or ''), vim.log.levels.ERROR)
      return
    end
    local ok, report = pcall(vim.json.decode, outcome.stdout or '')
    if not ok or type(report) ~= 'table' then
      vim.notify('letterhead check: unreadable report: ' .. tostring(report), vim.log.levels.ERROR)
      return
    end
    local items = M.quickfix_items(root, report)
    vim.fn.setqflist({}, ' ', { title = 'letterhead check ' .. root, items = items })
    vim.notify(('letterhead: %d files checked, %d finding(s)'):format(report.files or 0, #items))
    if M.options.open_quickfix and #items > 0 then
      vim.cmd('botright copen')
    end
  end)
end

--- `:LetterheadTags [SITE]`: the taxonomy report in a scratch buffer.
---@param argument? string
---@return vim.SystemObj?
function M.tags(argument)
  local root = site_for(argument)
  if root == nil then
    vim.notify('letterhead: no Jekyll site (a folder with _config.yml) here', vim.log.levels.WARN)
    return nil
  end
  return run({ 'tags', root }, root, function(outcome)
    if outcome.code ~= 0 then
      vim.notify('letterhead tags failed: ' .. vim.trim(outcome.stderr or ''), vim.log.levels.ERROR)
      return
    end
    local name = 'letterhead://tags' .. root
    local bufnr = vim.fn.bufnr(name)
    if bufnr == -1 then
      bufnr = vim.api.nvim_create_buf(true, true)
      vim.api.nvim_buf_set_name(bufnr, name)
    end
    vim.bo[bufnr].modifiable = true
    local lines = vim.split(vim.trim(outcome.stdout or ''), '\n', { plain = true })
    table.insert(lines, 1, 'Tags and categories of ' .. root)
    table.insert(lines, 2, '')
    vim.api.nvim_buf_set_lines(bufnr, 0, -1, false, lines)
    vim.bo[bufnr].modifiable = false
    vim.bo[bufnr].bufhidden = 'hide'
    vim.bo[bufnr].filetype = 'letterhead-report'
    local window = vim.fn.bufwinid(bufnr)
    if window == -1 then
      vim.cmd('botright split')
      vim.api.nvim_win_set_buf(0, bufnr)
    else
      vim.api.nvim_set_current_win(window)
    end
  end)
end

--- The user commands (also made by plugin/letterhead.lua, so `vim.lsp.enable` users get them).
function M.create_commands()
  vim.api.nvim_create_user_command('LetterheadCheck', function(args)
    M.check(args.args)
  end, {
    nargs = '?',
    complete = 'dir',
    desc = 'letterhead: check the whole site into the quickfix list',
  })
  vim.api.nvim_create_user_command('LetterheadTags', function(args)
    M.tags(args.args)
  end, { nargs = '?', complete = 'dir', desc = 'letterhead: the taxonomy report of the site' })
  vim.api.nvim_create_user_command('LetterheadRestart', function()
    M.restart()
  end, { desc = 'letterhead: restart the language server' })
end

--- Stop the letterhead clients and start them again for their buffers.
function M.restart()
  local clients = vim.lsp.get_clients({ name = 'letterhead' })
  local buffers = {}
  for _, client in ipairs(clients) do
    for bufnr in pairs(client.attached_buffers) do
      table.insert(buffers, bufnr)
    end
    call(client, 'stop')
  end
  local waited = 0
  local function start_again()
    local stopped = vim.iter(clients):all(function(client)
      return call(client, 'is_stopped')
    end)
    if not stopped and waited < 5000 then
      waited = waited + 100
      vim.defer_fn(start_again, 100)
      return
    end
    -- Enabled with vim.lsp.enable: its FileType autocommand starts the client again.
    if legacy_group == nil and vim.lsp.enable ~= nil then
      if pcall(vim.cmd.doautoall, 'nvim.lsp.enable FileType') then
        return
      end
    end
    for _, bufnr in ipairs(buffers) do
      if vim.api.nvim_buf_is_loaded(bufnr) then
        M.start(bufnr)
      end
    end
  end
  vim.defer_fn(start_again, 100)
end

return M
