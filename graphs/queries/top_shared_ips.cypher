// The IPs used by the most accounts in the last N days (sign-up, logins, requests).
// @param days int = 30: look back this many days from as_of
// @param as_of string = null: ISO-8601 end of the look-back (default: now)
// @param limit int = 20: how many IPs
WITH coalesce(datetime($as_of), datetime()) AS as_of
MATCH (a:Account)-[r:USED_IP|SIGNED_UP_FROM]->(i:IP)
WHERE r.last_seen >= as_of - duration({days: $days}) AND r.last_seen <= as_of
WITH i, count(DISTINCT a) AS accounts, collect(DISTINCT a.account_id) AS ids
WHERE accounts > 1
MATCH (i)-[:IN_SUBNET]->(s:Subnet)
RETURN i.ip AS ip, s.cidr AS subnet, accounts, ids[..10] AS sample
ORDER BY accounts DESC, ip
LIMIT $limit
