// The payment methods used by the most accounts in the last N days, with outcomes.
// @param days int = 30: look back this many days from as_of
// @param as_of string = null: ISO-8601 end of the look-back (default: now)
// @param limit int = 20: how many payment methods
WITH coalesce(datetime($as_of), datetime()) AS as_of
MATCH (a:Account)-[r:PAID_WITH]->(m:PaymentMethod)
WHERE r.last_seen >= as_of - duration({days: $days}) AND r.last_seen <= as_of
WITH m, count(DISTINCT a) AS accounts, collect(DISTINCT a.account_id) AS ids,
     sum(r.count) AS payments, sum(r.declined) AS declined, sum(r.disputed) AS disputed
WHERE accounts > 1
RETURN m.payment_method_id AS payment_method_id, m.card_bin AS card_bin,
       m.card_country AS card_country, accounts, payments, declined, disputed,
       ids[..10] AS sample
ORDER BY accounts DESC, payment_method_id
LIMIT $limit
