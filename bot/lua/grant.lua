-- Admin grant (or, with a negative amount, a deduction that never goes below zero).
-- KEYS: user, ledger, uledger, stats.  ARGV: uid, amount, now_ms, admin_uid, uledger_maxlen
if redis.call('HEXISTS', KEYS[1], 'created') == 0 then return {'no_user', 0} end
local amount = tonumber(ARGV[2])
local bal = tonumber(redis.call('HGET', KEYS[1], 'bal') or '0')
if bal + amount < 0 then return {'insufficient', bal} end
bal = redis.call('HINCRBY', KEYS[1], 'bal', amount)
local e = {'uid', ARGV[1], 'delta', amount, 'reason', 'grant', 'ref', ARGV[4], 'bal', bal, 'ts', ARGV[3]}
redis.call('XADD', KEYS[2], '*', unpack(e))
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', unpack(e))
redis.call('HINCRBY', KEYS[4], 'credits_granted', amount)
return {'ok', bal}
