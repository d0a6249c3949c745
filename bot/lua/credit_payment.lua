-- Credit a successful Stars payment once per Telegram charge id.
-- KEYS: paid, user, ledger, uledger, stats
-- ARGV: charge_id, uid, credits, stars, now_ms, pack, uledger_maxlen
-- Amounts are integers within +-1e9 (bot/ledger.py MAX_AMOUNT) and balances stay under 1e12 (MAX_BALANCE):
-- far inside the 2^53 a Lua number holds exactly. Anything else is refused before a key is touched.
local function amount(s, min)
  if type(s) ~= 'string' or #s > 11 or not string.match(s, '^%-?%d+$') then return nil end
  local n = tonumber(s)
  if n < min or n > 1000000000 then return nil end
  return n
end
if amount(ARGV[3], 1) == nil or amount(ARGV[4], 0) == nil then return {'invalid_amount', 0} end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'duplicate', tonumber(redis.call('HGET', KEYS[2], 'bal') or '0')}
end
local credits = amount(ARGV[3], 1)
redis.call('HSET', KEYS[1], 'uid', ARGV[2], 'credits', credits, 'stars', ARGV[4], 'at', ARGV[5],
  'pack', ARGV[6], 'state', 'paid')
local bal = redis.call('HINCRBY', KEYS[2], 'bal', credits)
local e = {'uid', ARGV[2], 'delta', credits, 'reason', 'payment', 'ref', ARGV[1], 'bal', bal, 'ts', ARGV[5]}
redis.call('XADD', KEYS[3], '*', unpack(e))
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*', unpack(e))
redis.call('HINCRBY', KEYS[5], 'credits_sold', credits)
redis.call('HINCRBY', KEYS[5], 'stars_received', tonumber(ARGV[4]))
redis.call('HINCRBY', KEYS[5], 'payments', 1)
return {'ok', bal}
