// The redis store's Lua scripts. Each runs atomically on the node that owns
// its keys; every key a script touches is passed in KEYS and shares one
// `{hashtag}` (see keys.ts), so a cluster checks them before the script
// runs (a slot in migration answers ASK/TRYAGAIN instead of half-running it).
// Every script does all of its checks before its first write, so a refusal
// never leaves a partial change behind. Times come from the server (TIME),
// so deadlines never depend on the daemon's clock.
import { createHash } from "node:crypto";

export interface RedisScript {
  name: string;
  source: string;
  sha: string;
}

const NOW = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

// Old chunks stay readable for a grace period (readers that opened the old
// version finish), then expire; LT never lengthens a shorter TTL.
const EXPIRE_OLD = `
local function expire_old(first, last, grace)
  for i = first, last do
    if grace > 0 then redis.call('PEXPIRE', KEYS[i], grace, 'LT') else redis.call('DEL', KEYS[i]) end
  end
end
`;

/** A boolean as a script argument. */
export function flag(value: boolean | undefined): string {
  return value ? "1" : "0";
}

/** A script's (or a command's) list reply; anything else as an empty list. */
export function asList(reply: unknown): unknown[] {
  return Array.isArray(reply) ? reply : [];
}

function script(name: string, body: string): RedisScript {
  const source = `${NOW}${EXPIRE_OLD}${body}`;
  return { name, source, sha: createHash("sha1").update(source).digest("hex") };
}

/**
 * Registers a write in progress and returns the current manifest.
 * KEYS: manifest, pending. ARGV: write id, ttl ms.
 * Returns {now, manifest fields as a flat list}.
 */
export const BEGIN = script(
  "begin",
  `
local now = now_ms()
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
local left = redis.call('PTTL', KEYS[2])
if left < ttl + 1000 then redis.call('PEXPIRE', KEYS[2], ttl + 1000) end
return {now, redis.call('HGETALL', KEYS[1])}
`,
);

/**
 * Adds a key to the listing index and records which write indexed it.
 * KEYS: index keys, index tokens. ARGV: key, write id.
 */
export const INDEX = script(
  "index",
  `
redis.call('ZADD', KEYS[1], 0, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
`,
);

/**
 * Removes a key from the index unless a write indexed it again since its
 * token was read ('' = no token). KEYS: index keys, index tokens. ARGV: key, token.
 */
export const UNINDEX = script(
  "unindex",
  `
local token = redis.call('HGET', KEYS[2], ARGV[1])
if (token == false and ARGV[2] == '') or token == ARGV[2] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
  return 1
end
return 0
`,
);

/**
 * Whether an object exists or has a write in progress (then its index entry must stay).
 * KEYS: manifest, pending. Returns {exists, live pending writes}.
 */
export const PROBE = script(
  "probe",
  `
local now = now_ms()
return {redis.call('EXISTS', KEYS[1]), redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf')}
`,
);

/**
 * Commits a staged version: checks the write is still registered, its chunks
 * exist and the preconditions hold against the current manifest, then swaps
 * the manifest and lets the replaced version's chunks expire.
 * KEYS: manifest, pending, new chunks (n), replaced chunks (m).
 * ARGV: write id, n, m, expected data id ('' = none), expected size,
 *   if-not-exists, if-exists, has-if-match, if-match etag, ttl ms (0 = none),
 *   grace ms, then the manifest's fields as name/value pairs.
 * Returns {'ok', now} | {'expired'} | {'lost'} | {'exists', etag, size} |
 *   {'missing'} | {'mismatch', etag, size} | {'conflict', data id, size, chunk bytes}.
 */
export const COMMIT = script(
  "commit",
  `
local now = now_ms()
local n, m = tonumber(ARGV[2]), tonumber(ARGV[3])
local deadline = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not deadline or tonumber(deadline) <= now then return {'expired'} end
for i = 3, 2 + n do
  if redis.call('EXISTS', KEYS[i]) == 0 then return {'lost'} end
end
local cur = redis.call('HMGET', KEYS[1], 'd', 's', 'cs', 'e')
local exists = cur[1] ~= false
if exists and ARGV[6] == '1' then return {'exists', cur[4], cur[2]} end
if not exists and (ARGV[7] == '1' or ARGV[8] == '1') then return {'missing'} end
if exists and ARGV[8] == '1' and cur[4] ~= ARGV[9] then return {'mismatch', cur[4], cur[2]} end
if (exists and (cur[1] ~= ARGV[4] or cur[2] ~= ARGV[5])) or (not exists and ARGV[4] ~= '') then
  return {'conflict', cur[1] or '', cur[2] or '0', cur[3] or '0'}
end
local fields = {}
for i = 12, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'u'
fields[#fields + 1] = tostring(now)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZREM', KEYS[2], ARGV[1])
local ttl = tonumber(ARGV[10])
for i = 3, 2 + n do
  if ttl > 0 then redis.call('PEXPIRE', KEYS[i], ttl) else redis.call('PERSIST', KEYS[i]) end
end
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
expire_old(3 + n, 2 + n + m, tonumber(ARGV[11]))
return {'ok', now}
`,
);

/**
 * Appends staged pieces to the current version in place. Pieces were cut on
 * the chunk grid of the size the writer saw (piece 0 fills the last partial
 * chunk); when the object is still that size they are renamed into place
 * (piece 0 is APPENDed), otherwise their bytes are copied onto the current
 * grid. Bytes are only ever added past the old size, so readers of the old
 * version, which read bounded ranges, are unaffected.
 * KEYS: manifest, pending, pieces (p), every chunk of the result (t).
 * ARGV: write id, p, t, expected data id ('' = missing), expected size,
 *   create-if-missing, has-expected-offset, expected offset, has-if-match,
 *   if-match etag, appended bytes, piece alignment, piece chunk bytes,
 *   data id if created, new etag, content type if created, max bytes,
 *   ttl ms (0 = none), object key, the result's CRC32C ('' = unknown)
 *   computed from the expected version's.
 * Returns {'ok', manifest fields} | {'missing'} | {'mismatch', etag, size} |
 *   {'offset', size} | {'toolarge', size} | {'conflict', data id, size, chunk bytes, crc32c} |
 *   {'expired'} | {'lost'}.
 */
export const APPEND = script(
  "append",
  `
local now = now_ms()
local p, t = tonumber(ARGV[2]), tonumber(ARGV[3])
local cur = redis.call('HMGET', KEYS[1], 'd', 's', 'cs', 'e', 'c')
local exists = cur[1] ~= false
if not exists and (ARGV[6] ~= '1' or ARGV[9] == '1') then return {'missing'} end
if exists and ARGV[9] == '1' and cur[4] ~= ARGV[10] then return {'mismatch', cur[4], cur[2]} end
local size = 0
if exists then size = tonumber(cur[2]) end
if ARGV[7] == '1' and tonumber(ARGV[8]) ~= size then return {'offset', tostring(size)} end
local x = tonumber(ARGV[11])
if size + x > tonumber(ARGV[17]) then return {'toolarge', tostring(size)} end
local pieceCs = tonumber(ARGV[13])
local cs = pieceCs
if exists then cs = tonumber(cur[3]) end
if (exists and (cur[1] ~= ARGV[4] or cur[2] ~= ARGV[5])) or (not exists and ARGV[4] ~= '') then
  return {'conflict', cur[1] or '', tostring(size), tostring(cs), cur[5] or ''}
end
local deadline = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not deadline or tonumber(deadline) <= now then return {'expired'} end
for i = 3, 2 + p do
  if redis.call('EXISTS', KEYS[i]) == 0 then return {'lost'} end
end
local base = 2 + p
local first = math.floor(size / cs)
local align = tonumber(ARGV[12])
if size % cs == align and cs == pieceCs then
  for j = 0, p - 1 do
    local piece, target = KEYS[3 + j], KEYS[base + 1 + first + j]
    if j == 0 and align > 0 then
      redis.call('APPEND', target, redis.call('GET', piece))
      redis.call('DEL', piece)
    else
      redis.call('RENAME', piece, target)
    end
  end
else
  local pos = size
  for j = 0, p - 1 do
    local piece = KEYS[3 + j]
    local data = redis.call('GET', piece)
    local at = 1
    while at <= #data do
      local room = cs - (pos % cs)
      local take = math.min(room, #data - at + 1)
      redis.call('APPEND', KEYS[base + 1 + math.floor(pos / cs)], string.sub(data, at, at + take - 1))
      at = at + take
      pos = pos + take
    end
    redis.call('DEL', piece)
  end
end
local total = tostring(size + x)
if exists then
  redis.call('HSET', KEYS[1], 's', total, 'e', ARGV[15], 'u', tostring(now))
  redis.call('HDEL', KEYS[1], 'm5')
else
  redis.call('HSET', KEYS[1], 'v', '1', 'k', ARGV[19], 'd', ARGV[14], 's', total, 'cs', tostring(cs),
    'e', ARGV[15], 'ct', ARGV[16], 'md', '{}', 'u', tostring(now))
end
if ARGV[20] == '' then redis.call('HDEL', KEYS[1], 'c') else redis.call('HSET', KEYS[1], 'c', ARGV[20]) end
redis.call('ZREM', KEYS[2], ARGV[1])
local ttl = tonumber(ARGV[18])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  for i = 1, t do redis.call('PEXPIRE', KEYS[base + i], ttl) end
else
  for i = first + 1, t do redis.call('PERSIST', KEYS[base + i]) end
end
return {'ok', redis.call('HGETALL', KEYS[1])}
`,
);

/**
 * Deletes the current version; its chunks expire after the grace period.
 * KEYS: manifest, its chunks (m). ARGV: expected data id, expected size,
 *   has-if-match, if-match etag, grace ms.
 * Returns {'ok'} | {'missing'} | {'mismatch', etag, size} | {'conflict', data id, size, chunk bytes}.
 */
export const DELETE = script(
  "delete",
  `
local cur = redis.call('HMGET', KEYS[1], 'd', 's', 'cs', 'e')
if cur[1] == false then return {'missing'} end
if ARGV[3] == '1' and cur[4] ~= ARGV[4] then return {'mismatch', cur[4], cur[2]} end
if cur[1] ~= ARGV[1] or cur[2] ~= ARGV[2] then return {'conflict', cur[1], cur[2], cur[3]} end
redis.call('DEL', KEYS[1])
expire_old(2, #KEYS, tonumber(ARGV[5]))
return {'ok'}
`,
);

/**
 * Copies the first `len` bytes of a chunk into a staging key, inside Redis
 * (single node only: the two keys are in different slots).
 * KEYS: source chunk, destination. ARGV: len, staging ttl ms. Returns 1, or 0 when the source is gone.
 */
export const COPY_CHUNK = script(
  "copy-chunk",
  `
local len = tonumber(ARGV[1])
local have = redis.call('STRLEN', KEYS[1])
if have < len then return 0 end
if have == len then
  redis.call('COPY', KEYS[1], KEYS[2], 'REPLACE')
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[2]))
else
  redis.call('SET', KEYS[2], redis.call('GETRANGE', KEYS[1], 0, len - 1), 'PX', tonumber(ARGV[2]))
end
return 1
`,
);
