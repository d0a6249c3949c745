-- Create a user once, with the free balance. KEYS: user, users, ledger, uledger, stats
-- ARGV: uid, now_ms, free_credits, lang, uledger_maxlen
if redis.call('HEXISTS', KEYS[1], 'created') == 1 then
  return {'existing', tonumber(redis.call('HGET', KEYS[1], 'bal') or '0')}
end
local free = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'created', ARGV[2], 'bal', free, 'lang', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if free > 0 then
  local e = {'uid', ARGV[1], 'delta', free, 'reason', 'welcome', 'ref', '', 'bal', free, 'ts', ARGV[2]}
  redis.call('XADD', KEYS[3], '*', unpack(e))
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[5], '*', unpack(e))
  redis.call('HINCRBY', KEYS[5], 'credits_welcome', free)
end
return {'new', free}
