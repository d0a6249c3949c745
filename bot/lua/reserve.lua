-- Debit a job's cost and record the job, or say why not.
-- KEYS: user, lock, active, job, ledger, uledger, stats
-- ARGV: uid, job_id, cost, now_ms, deadline_ms, max_active, lock_ttl_ms, uledger_maxlen, field, value, ...
-- Amounts are integers within +-1e9 (bot/ledger.py MAX_AMOUNT) and balances stay under 1e12 (MAX_BALANCE):
-- far inside the 2^53 a Lua number holds exactly. Anything else is refused before a key is touched.
local function amount(s, min)
  if type(s) ~= 'string' or #s > 11 or not string.match(s, '^%-?%d+$') then return nil end
  local n = tonumber(s)
  if n < min or n > 1000000000 then return nil end
  return n
end
if amount(ARGV[3], 0) == nil then return {'invalid_amount', 0} end
if redis.call('EXISTS', KEYS[4]) == 1 then
  return {'duplicate', redis.call('HGET', KEYS[4], 'state')}
end
if redis.call('HEXISTS', KEYS[1], 'created') == 0 then
  return {'no_user', 0}
end
if redis.call('HGET', KEYS[1], 'banned') == '1' then
  return {'banned', 0}
end
local holder = redis.call('GET', KEYS[2])
if holder then
  return {'locked', holder}
end
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[6]) then
  return {'queue_full', redis.call('ZCARD', KEYS[3])}
end
local cost = amount(ARGV[3], 0)
local bal = tonumber(redis.call('HGET', KEYS[1], 'bal') or '0')
if bal < cost then
  return {'insufficient', bal}
end
bal = redis.call('HINCRBY', KEYS[1], 'bal', -cost)
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[7])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[2])
redis.call('HSET', KEYS[4], 'id', ARGV[2], 'uid', ARGV[1], 'cost', cost, 'state', 'reserved',
  'created', ARGV[4], 'deadline', ARGV[5], 'attempts', 0)
for i = 9, #ARGV, 2 do
  redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
end
local e = {'uid', ARGV[1], 'delta', -cost, 'reason', 'job', 'ref', ARGV[2], 'bal', bal, 'ts', ARGV[4]}
redis.call('XADD', KEYS[5], '*', unpack(e))
redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[8], '*', unpack(e))
redis.call('HINCRBY', KEYS[7], 'jobs_reserved', 1)
return {'ok', bal}
