// The devices used by the most accounts in the last N days (sign-up or use).
// @param days int = 30: look back this many days from as_of
// @param as_of string = null: ISO-8601 end of the look-back (default: now)
// @param limit int = 20: how many devices
WITH coalesce(datetime($as_of), datetime()) AS as_of
MATCH (a:Account)-[r:USED_DEVICE|SIGNED_UP_ON]->(d:Device)
WHERE r.last_seen >= as_of - duration({days: $days}) AND r.last_seen <= as_of
WITH d, count(DISTINCT a) AS accounts, collect(DISTINCT a.account_id) AS ids
WHERE accounts > 1
RETURN d.device_id AS device_id, accounts, ids[..10] AS sample
ORDER BY accounts DESC, device_id
LIMIT $limit
