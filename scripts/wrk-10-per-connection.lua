-- wrk -s scripts/wrk-10-per-connection.lua: every 10th request of a thread asks the server
-- to close its connection ("Connection: close"), so connections carry 10 requests on
-- average (wrk itself keeps a connection for as long as the server does). wrk reconnects
-- after each close, so the run mixes requests with accepts and closes in a 10:1 ratio.
local sent = 0

request = function()
  sent = sent + 1
  if sent % 10 == 0 then
    return wrk.format(nil, nil, { ["Connection"] = "close" })
  end
  return wrk.format(nil, nil, { ["Connection"] = "keep-alive" })
end
