-- Lease a job to one bot process. KEYS: lease.  ARGV: owner, ttl_ms, mode ('acquire'|'renew'|'release')
local holder = redis.call('GET', KEYS[1])
if ARGV[3] == 'acquire' then
  if holder and holder ~= ARGV[1] then return 0 end
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder ~= ARGV[1] then return 0 end
if ARGV[3] == 'renew' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
return 1
