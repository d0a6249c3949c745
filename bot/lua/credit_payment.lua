-- Credit a successful Stars payment once per Telegram charge id.
-- KEYS: paid, user, ledger, uledger, stats
-- ARGV: charge_id, uid, credits, stars, now_ms, pack, uledger_maxlen
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'duplicate', tonumber(redis.call('HGET', KEYS[2], 'bal') or '0')}
end
local credits = tonumber(ARGV[3])
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
