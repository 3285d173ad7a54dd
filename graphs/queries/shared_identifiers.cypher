// The identifiers two accounts share, with how each account used them.
// @param a string: one account_id
// @param b string: the other account_id
MATCH (x:Account {account_id: $a})-[ra]->(i)<-[rb]-(y:Account {account_id: $b})
RETURN labels(i)[0] AS kind,
       coalesce(i.device_id, i.ip, i.address, i.number, i.payment_method_id, i.ua,
                i.creator_id) AS identifier,
       type(ra) AS a_via, ra.count AS a_count, ra.last_seen AS a_last_seen,
       type(rb) AS b_via, rb.count AS b_count, rb.last_seen AS b_last_seen,
       COUNT { MATCH (i)<-[]-(u:Account) RETURN DISTINCT u } AS users
ORDER BY users, kind, identifier
