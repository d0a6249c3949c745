-- Update fields of a job that is still open (reserved/running); a settled job is never revived.
-- KEYS: job.  ARGV: field, value, ...
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'reserved' and state ~= 'running' then
  return 0
end
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
return 1
