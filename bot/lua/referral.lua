-- Credit the inviter once per invitee. KEYS: referred_by, inviter, invitee, ledger, uledger(inviter), stats
-- ARGV: inviter_uid, invitee_uid, bonus, now_ms, uledger_maxlen
-- Amounts are integers within +-1e9 (bot/ledger.py MAX_AMOUNT) and balances stay under 1e12 (MAX_BALANCE):
-- far inside the 2^53 a Lua number holds exactly. Anything else is refused before a key is touched.
local function amount(s, min)
  if type(s) ~= 'string' or #s > 11 or not string.match(s, '^%-?%d+$') then return nil end
  local n = tonumber(s)
  if n < min or n > 1000000000 then return nil end
  return n
end
if amount(ARGV[3], 0) == nil then return {'invalid_amount', 0} end
if ARGV[1] == ARGV[2] then return {'self', 0} end
if redis.call('HEXISTS', KEYS[2], 'created') == 0 then return {'no_inviter', 0} end
if redis.call('SET', KEYS[1], ARGV[1], 'NX') == false then return {'duplicate', 0} end
redis.call('HSET', KEYS[3], 'referrer', ARGV[1])
redis.call('HINCRBY', KEYS[2], 'invited', 1)
local bonus = amount(ARGV[3], 0)
local bal = tonumber(redis.call('HGET', KEYS[2], 'bal') or '0')
if bonus > 0 and bal + bonus <= 1000000000000 then
  bal = redis.call('HINCRBY', KEYS[2], 'bal', bonus)
  local e = {'uid', ARGV[1], 'delta', bonus, 'reason', 'referral', 'ref', ARGV[2], 'bal', bal, 'ts', ARGV[4]}
  redis.call('XADD', KEYS[4], '*', unpack(e))
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[5], '*', unpack(e))
  redis.call('HINCRBY', KEYS[6], 'credits_referral', bonus)
end
return {'ok', bal}
