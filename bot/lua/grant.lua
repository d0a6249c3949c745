-- Admin grant (or, with a negative amount, a deduction that never goes below zero).
-- KEYS: user, ledger, uledger, stats.  ARGV: uid, amount, now_ms, admin_uid, uledger_maxlen
-- Amounts are integers within +-1e9 (bot/ledger.py MAX_AMOUNT) and balances stay under 1e12 (MAX_BALANCE):
-- far inside the 2^53 a Lua number holds exactly. Anything else is refused before a key is touched.
local function amount(s, min)
  if type(s) ~= 'string' or #s > 11 or not string.match(s, '^%-?%d+$') then return nil end
  local n = tonumber(s)
  if n < min or n > 1000000000 then return nil end
  return n
end
local delta = amount(ARGV[2], -1000000000)
if delta == nil or delta == 0 then return {'invalid_amount', 0} end
if redis.call('HEXISTS', KEYS[1], 'created') == 0 then return {'no_user', 0} end
local bal = tonumber(redis.call('HGET', KEYS[1], 'bal') or '0')
if bal + delta < 0 then return {'insufficient', bal} end
if bal + delta > 1000000000000 then return {'balance_limit', bal} end
bal = redis.call('HINCRBY', KEYS[1], 'bal', delta)
local e = {'uid', ARGV[1], 'delta', delta, 'reason', 'grant', 'ref', ARGV[4], 'bal', bal, 'ts', ARGV[3]}
redis.call('XADD', KEYS[2], '*', unpack(e))
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', unpack(e))
redis.call('HINCRBY', KEYS[4], 'credits_granted', delta)
return {'ok', bal}
