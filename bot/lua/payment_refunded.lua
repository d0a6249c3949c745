-- Telegram refunded a payment's Stars (seen in getStarTransactions): reflect it once, whoever refunded it.
-- 'paid' (refunded outside /refund): take the credits back, never below a zero balance, and count what could
-- not be taken back; 'refunding' (a /refund that never reached its commit): close it; 'refunded': nothing.
-- KEYS: paid, user, ledger, uledger, stats
-- ARGV: charge_id, now_ms, uledger_maxlen
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'unknown', 0}
end
local state = redis.call('HGET', KEYS[1], 'state')
local uid = redis.call('HGET', KEYS[1], 'uid')
local credits = tonumber(redis.call('HGET', KEYS[1], 'credits'))
local bal = tonumber(redis.call('HGET', KEYS[2], 'bal') or '0')
if state == 'refunded' then
  return {'duplicate', bal}
end
local sold = credits
if state == 'paid' then
  local taken = math.min(credits, math.max(bal, 0))
  sold = taken
  if taken > 0 then
    bal = redis.call('HINCRBY', KEYS[2], 'bal', -taken)
    local e = {'uid', uid, 'delta', -taken, 'reason', 'payment_refund', 'ref', ARGV[1], 'bal', bal, 'ts', ARGV[2]}
    redis.call('XADD', KEYS[3], '*', unpack(e))
    redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[3], '*', unpack(e))
  end
  if taken < credits then
    redis.call('HINCRBY', KEYS[5], 'credits_unrecovered', credits - taken)
  end
  redis.call('HSET', KEYS[1], 'taken_back', taken)
end
redis.call('HSET', KEYS[1], 'state', 'refunded', 'refunded_at', ARGV[2])
redis.call('HINCRBY', KEYS[5], 'credits_sold', -sold)
redis.call('HINCRBY', KEYS[5], 'stars_refunded', tonumber(redis.call('HGET', KEYS[1], 'stars')))
return {'ok', bal}
