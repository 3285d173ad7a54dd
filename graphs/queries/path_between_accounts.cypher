// The shortest path between two accounts through shared identifiers (at most 6
// identifiers long), skipping identifiers used by more than max_users accounts.
// @param a string: one account_id
// @param b string: the other account_id
// @param max_users int = 200: identifiers with more users are not walked through
MATCH (x:Account {account_id: $a}), (y:Account {account_id: $b})
MATCH p = shortestPath((x)-[:HAS_EMAIL|HAS_PHONE|SIGNED_UP_FROM|SIGNED_UP_ON|USED_IP|USED_DEVICE|USED_UA|PAID_WITH|SUPPORTS*..12]-(y))
WHERE all(n IN nodes(p)[1..-1] WHERE n:Account OR COUNT { MATCH (n)<-[]-(u:Account) RETURN DISTINCT u } <= $max_users)
RETURN length(p) / 2 AS identifiers_between,
       [n IN nodes(p) | labels(n)[0] + ' ' + coalesce(n.account_id, n.device_id, n.ip, n.address,
        n.number, n.payment_method_id, n.ua, n.creator_id)] AS path,
       [r IN relationships(p) | type(r)] AS via
