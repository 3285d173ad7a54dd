// Accounts that share any identifier (device, IP, email, phone, payment method, user
// agent, creator) with one account, with what they share.
// @param account_id string: the account to start from
// @param max_users int = 200: skip identifiers used by more accounts (NATs, carriers, popular UAs)
MATCH (a:Account {account_id: $account_id})-[]->(x)
WHERE x:Device OR x:IP OR x:Email OR x:Phone OR x:PaymentMethod OR x:UserAgent OR x:Creator
WITH a, x, COUNT { MATCH (x)<-[]-(u:Account) RETURN DISTINCT u } AS users
WHERE users <= $max_users
MATCH (x)<-[]-(other:Account)
WHERE other <> a
WITH other, collect(DISTINCT labels(x)[0] + ' ' + coalesce(x.device_id, x.ip, x.address, x.number,
     x.payment_method_id, x.ua, x.creator_id)) AS shared
RETURN other.account_id AS account_id, size(shared) AS n_shared, shared,
       other.created_at AS created_at, other.status AS status, other.label AS label
ORDER BY n_shared DESC, account_id
