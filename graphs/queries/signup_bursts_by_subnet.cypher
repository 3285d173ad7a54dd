// Subnets (IPv4 /24, IPv6 /48) from which many accounts signed up within a few hours:
// for each subnet the busiest window of window_hours after some sign-up.
// @param window_hours int = 6: length of the burst window
// @param min_accounts int = 5: report bursts of at least this many sign-ups
// @param days int = 3650: only accounts created in the last N days before as_of
// @param as_of string = null: ISO-8601 end of the look-back (default: now)
// @param limit int = 20: how many subnets
WITH coalesce(datetime($as_of), datetime()) AS as_of
MATCH (a:Account)-[:SIGNED_UP_FROM]->(:IP)-[:IN_SUBNET]->(s:Subnet)
WHERE a.created_at >= as_of - duration({days: $days}) AND a.created_at <= as_of
WITH s, a ORDER BY a.created_at
WITH s, collect(a) AS accounts
WHERE size(accounts) >= $min_accounts
UNWIND range(0, size(accounts) - $min_accounts) AS i
WITH s, accounts, accounts[i].created_at AS start
WITH s, start, [x IN accounts WHERE start <= x.created_at < start + duration({hours: $window_hours})] AS burst
WHERE size(burst) >= $min_accounts
WITH s, start, burst ORDER BY size(burst) DESC, start
WITH s, head(collect({start: start, burst: burst})) AS best
RETURN s.cidr AS subnet, best.start AS burst_start, size(best.burst) AS accounts,
       [x IN best.burst | x.account_id][..10] AS sample
ORDER BY accounts DESC, subnet
LIMIT $limit
