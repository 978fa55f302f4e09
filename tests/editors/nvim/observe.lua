-- Drives a headless Neovim through what an author does with one review, and writes what the
-- editor saw as JSON (LETTERHEAD_OUT) for tests/editors/test_neovim.py to assert on:
-- the client and its root, the diagnostics, a completion in the `tags:` list, a hover on the
-- salutation, `:LetterheadCheck` into the quickfix list, `:LetterheadTags`, `:LetterheadRestart`.
-- Every step records its own failure and the next one still runs, so one broken feature shows
-- as one failed assertion, not as a hang.
local review = assert(os.getenv('LETTERHEAD_REVIEW'), 'LETTERHEAD_REVIEW unset')
local out = assert(os.getenv('LETTERHEAD_OUT'), 'LETTERHEAD_OUT unset')
local timeout = tonumber(os.getenv('LETTERHEAD_TIMEOUT_MS') or '') or 30000

local result = { errors = {}, nvim = tostring(vim.version()) }

local function step(name, body)
  local ok, error = xpcall(body, debug.traceback)
  if not ok then
    result.errors[name] = tostring(error)
  end
end

local function write_result()
  local file = assert(io.open(out, 'w'))
  file:write(vim.json.encode(result))
  file:close()
end

local function finish()
  write_result()
  vim.cmd('qall!')
end

-- A hang anywhere still ends with what was seen so far.
vim.defer_fn(function()
  result.errors.timeout = 'the observation did not finish in time'
  finish()
end, timeout * 4)

vim.cmd.edit(vim.fn.fnameescape(review))
local bufnr = vim.api.nvim_get_current_buf()
result.filetype = vim.bo[bufnr].filetype

local function letterhead_client()
  return vim.lsp.get_clients({ bufnr = bufnr, name = 'letterhead' })[1]
end

local client = nil ---@type vim.lsp.Client?
step('attach', function()
  vim.wait(timeout, function()
    local found = letterhead_client()
    return found ~= nil and found.initialized == true
  end, 50)
  client = letterhead_client()
  assert(client, 'no letterhead client attached to the review')
  result.client = {
    id = client.id,
    name = client.name,
    root_dir = client.root_dir,
    offset_encoding = client.offset_encoding,
    cmd = client.config.cmd,
    workspace_folders = client.workspace_folders,
  }
end)

local function positions(diagnostic)
  return {
    code = diagnostic.code,
    source = diagnostic.source,
    message = diagnostic.message,
    severity = diagnostic.severity,
    lnum = diagnostic.lnum,
    col = diagnostic.col,
    end_lnum = diagnostic.end_lnum,
    end_col = diagnostic.end_col,
  }
end

local expected_code = os.getenv('LETTERHEAD_EXPECT_CODE') or 'TX001'
step('diagnostics', function()
  assert(client, 'no client')
  local namespace_ok = vim.wait(timeout, function()
    for _, diagnostic in ipairs(vim.diagnostic.get(bufnr)) do
      if diagnostic.code == expected_code then
        return true
      end
    end
    return false
  end, 50)
  -- Let any later publication (a refresh after indexing) settle before recording.
  vim.wait(300)
  result.diagnostics = vim.tbl_map(positions, vim.diagnostic.get(bufnr))
  assert(namespace_ok, 'no ' .. expected_code .. ' diagnostic arrived')
end)

--- The 0-based line of the first line matching `pattern` (a Lua pattern).
local function line_matching(pattern)
  for index, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
    if line:match(pattern) then
      return index - 1, line
    end
  end
  error('no line matches ' .. pattern)
end

local function request(method, params)
  local answers, error = vim.lsp.buf_request_sync(bufnr, method, params, timeout)
  assert(answers, ('%s: %s'):format(method, tostring(error)))
  for _, answer in pairs(answers) do
    assert(answer.err == nil, ('%s failed: %s'):format(method, vim.inspect(answer.err)))
    return answer.result
  end
end

step('completion', function()
  assert(client, 'no client')
  -- An author adds a tag: `, ` before the closing bracket of `tags: [...]`, cursor after it.
  local row, line = line_matching('^tags: %[')
  local close = assert(line:find('%]%s*$'), 'the tags list has no closing bracket')
  local edited = line:sub(1, close - 1) .. ', ' .. line:sub(close)
  vim.api.nvim_buf_set_lines(bufnr, row, row + 1, false, { edited })
  vim.api.nvim_win_set_cursor(0, { row + 1, close + 1 }) -- (1-based row, 0-based byte column)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  result.completion_position = params.position
  local answer = request('textDocument/completion', params)
  local items = answer and (answer.items or answer) or {}
  -- The range and text format every item shares, which Neovim applies to each item.
  result.completion_defaults = answer and answer.itemDefaults or vim.NIL
  result.completion = vim.tbl_map(function(item)
    return {
      label = item.label,
      detail = item.detail,
      kind = item.kind,
      insertText = item.insertText,
      textEdit = item.textEdit,
      textEditText = item.textEditText,
    }
  end, items)
  -- Undo the edit, so the later steps see the file as it is on disk.
  vim.api.nvim_buf_set_lines(bufnr, row, row + 1, false, { line })
end)

step('hover', function()
  assert(client, 'no client')
  local row, line = line_matching('^_%*%*Dear ')
  local column = assert(line:find('Dear'), 'no Dear') + 5 -- inside the addressee's name
  vim.api.nvim_win_set_cursor(0, { row + 1, column })
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  result.hover_position = params.position
  local answer = request('textDocument/hover', params)
  assert(answer, 'no hover on the salutation')
  result.hover = answer
end)

step('check', function()
  vim.fn.setqflist({}, 'r', { title = 'before', items = {} })
  vim.cmd('LetterheadCheck')
  local done = vim.wait(timeout, function()
    return vim.fn.getqflist({ title = 0 }).title:match('^letterhead check') ~= nil
  end, 50)
  assert(done, ':LetterheadCheck filled no quickfix list')
  local list = vim.fn.getqflist({ title = 0, items = 0 })
  result.quickfix = {
    title = list.title,
    items = vim.tbl_map(function(item)
      return {
        filename = vim.api.nvim_buf_get_name(item.bufnr),
        lnum = item.lnum,
        col = item.col,
        end_lnum = item.end_lnum,
        end_col = item.end_col,
        type = item.type,
        text = item.text,
      }
    end, list.items),
  }
  result.quickfix_window_open = vim.iter(vim.fn.getwininfo()):any(function(info)
    return info.quickfix == 1
  end)
  vim.cmd('cclose')
end)

step('tags', function()
  vim.cmd('LetterheadTags')
  local report = nil
  assert(vim.wait(timeout, function()
    for _, candidate in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_get_name(candidate):match('^letterhead://tags') then
        report = candidate
        return vim.api.nvim_buf_line_count(candidate) > 2
      end
    end
    return false
  end, 50), ':LetterheadTags showed no report')
  result.tags_report = vim.api.nvim_buf_get_lines(report, 0, 40, false)
  result.tags_report_modifiable = vim.bo[report].modifiable
  vim.cmd('close')
end)

step('restart', function()
  assert(client, 'no client')
  local before = client.id
  vim.api.nvim_set_current_buf(bufnr)
  vim.cmd('LetterheadRestart')
  local restarted = vim.wait(timeout, function()
    local now = letterhead_client()
    return now ~= nil and now.id ~= before and now.initialized == true
  end, 50)
  local now = letterhead_client()
  result.restart = { before = before, after = now and now.id or vim.NIL }
  assert(restarted, ':LetterheadRestart did not bring a new client')
end)

finish()
