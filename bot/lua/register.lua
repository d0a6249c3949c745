-- Create a user once, with the free balance. KEYS: user, users, ledger, uledger, stats
-- ARGV: uid, now_ms, free_credits, lang, uledger_maxlen
-- Amounts are integers within +-1e9 (bot/ledger.py MAX_AMOUNT) and balances stay under 1e12 (MAX_BALANCE):
-- far inside the 2^53 a Lua number holds exactly. Anything else is refused before a key is touched.
local function amount(s, min)
  if type(s) ~= 'string' or #s > 11 or not string.match(s, '^%-?%d+$') then return nil end
  local n = tonumber(s)
  if n < min or n > 1000000000 then return nil end
  return n
end
if amount(ARGV[3], 0) == nil then return {'invalid_amount', 0} end
if redis.call('HEXISTS', KEYS[1], 'created') == 1 then
  return {'existing', tonumber(redis.call('HGET', KEYS[1], 'bal') or '0')}
end
local free = amount(ARGV[3], 0)
redis.call('HSET', KEYS[1], 'created', ARGV[2], 'bal', free, 'lang', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if free > 0 then
  local e = {'uid', ARGV[1], 'delta', free, 'reason', 'welcome', 'ref', '', 'bal', free, 'ts', ARGV[2]}
  redis.call('XADD', KEYS[3], '*', unpack(e))
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*', unpack(e))
  redis.call('HINCRBY', KEYS[5], 'credits_welcome', free)
end
return {'new', free}
