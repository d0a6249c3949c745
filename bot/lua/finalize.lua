-- Settle a job exactly once: charged keeps the debit, refunded gives it back. Only from reserved/running.
-- KEYS: job, user, lock, active, ledger, uledger, stats, queued
-- ARGV: job_id, outcome ('charged'|'refunded'), now_ms, code, uledger_maxlen
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'reserved' and state ~= 'running' then
  return {'noop', state or 'missing', 0}
end
local cost = tonumber(redis.call('HGET', KEYS[1], 'cost'))
local uid = redis.call('HGET', KEYS[1], 'uid')
local bal = tonumber(redis.call('HGET', KEYS[2], 'bal') or '0')
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'finished', ARGV[3], 'code', ARGV[4])
if ARGV[2] == 'refunded' then
  if cost > 0 then
    bal = redis.call('HINCRBY', KEYS[2], 'bal', cost)
    local e = {'uid', uid, 'delta', cost, 'reason', 'refund', 'ref', ARGV[1], 'bal', bal, 'ts', ARGV[3]}
    redis.call('XADD', KEYS[5], '*', unpack(e))
    redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[5], '*', unpack(e))
  end
  redis.call('HINCRBY', KEYS[7], 'credits_refunded', cost)
  redis.call('HINCRBY', KEYS[7], 'jobs_refunded', 1)
else
  redis.call('HINCRBY', KEYS[7], 'credits_spent', cost)
  redis.call('HINCRBY', KEYS[7], 'jobs_charged', 1)
end
if redis.call('GET', KEYS[3]) == ARGV[1] then
  redis.call('DEL', KEYS[3])
end
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[8], ARGV[1])
return {'ok', ARGV[2], bal}
