-- Take a payment's credits back before its Stars are refunded ('begin'), or put them back if Telegram
-- refused the refund ('abort'). Refuses when the credits were already spent.
-- KEYS: paid, user, ledger, uledger, stats
-- ARGV: charge_id, mode ('begin'|'abort'|'commit'), now_ms, uledger_maxlen
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'unknown', 0}
end
local state = redis.call('HGET', KEYS[1], 'state')
local uid = redis.call('HGET', KEYS[1], 'uid')
local credits = tonumber(redis.call('HGET', KEYS[1], 'credits'))
local bal = tonumber(redis.call('HGET', KEYS[2], 'bal') or '0')
local delta, reason, next_state
if ARGV[2] == 'begin' then
  if state ~= 'paid' then return {state, bal} end
  if bal < credits then return {'spent', bal} end
  delta, reason, next_state = -credits, 'payment_refund', 'refunding'
elseif ARGV[2] == 'abort' then
  if state ~= 'refunding' then return {state, bal} end
  delta, reason, next_state = credits, 'payment_refund_failed', 'paid'
else
  if state ~= 'refunding' then return {state, bal} end
  redis.call('HSET', KEYS[1], 'state', 'refunded', 'refunded_at', ARGV[3])
  redis.call('HINCRBY', KEYS[5], 'credits_sold', -credits)
  redis.call('HINCRBY', KEYS[5], 'stars_refunded', tonumber(redis.call('HGET', KEYS[1], 'stars')))
  return {'ok', bal}
end
bal = redis.call('HINCRBY', KEYS[2], 'bal', delta)
redis.call('HSET', KEYS[1], 'state', next_state)
local e = {'uid', uid, 'delta', delta, 'reason', reason, 'ref', ARGV[1], 'bal', bal, 'ts', ARGV[3]}
redis.call('XADD', KEYS[3], '*', unpack(e))
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', unpack(e))
return {'ok', bal}
