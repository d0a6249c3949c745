-- Move an open job from one lifecycle stage to the next (compare-and-set), writing fields with it.
-- The transition table is checked in Python (bot/stages.py); this makes the move atomic across processes.
-- KEYS: job.  ARGV: expected stage, new stage, field, value, ...
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'reserved' and state ~= 'running' then
  return 0
end
local stage = redis.call('HGET', KEYS[1], 'stage') or 'reserved'
if stage ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'stage', ARGV[2])
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
