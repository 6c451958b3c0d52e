//! The catalog queries. Each takes any client (a transaction included, so a table can be
//! read back before the transaction that made it commits) and returns the rows as the
//! plain values of [`crate::live`]. Names are passed as parameters, never spliced in.

use tokio_postgres::GenericClient;

use crate::IntrospectError;
use crate::live::{LiveColumn, LiveConstraint, LiveEnum, LiveIndex, LiveTable, NamespaceEntry};

/// Reads `schema.table`, or `None` when there is no such table.
pub async fn table(
    client: &impl GenericClient,
    schema: &str,
    name: &str,
) -> Result<Option<LiveTable>, IntrospectError> {
    let Some(row) = client
        .query_opt(
            "SELECT c.oid, c.relkind::text, obj_description(c.oid, 'pg_class')
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')",
            &[&schema, &name],
        )
        .await?
    else {
        return Ok(None);
    };
    let oid: u32 = row.get(0);
    let kind: String = row.get(1);
    let comment: Option<String> = row.get(2);

    let columns = client
        .query(
            "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull,
                    pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attidentity::text, a.attgenerated::text,
                    pg_catalog.col_description(a.attrelid, a.attnum),
                    CASE WHEN base.typtype IN ('e', 'd', 'c', 'r', 'm') OR bn.nspname NOT IN ('pg_catalog')
                         THEN bn.nspname::text END,
                    CASE WHEN base.typtype IN ('e', 'd', 'c', 'r', 'm') OR bn.nspname NOT IN ('pg_catalog')
                         THEN base.typname::text END,
                    a.attndims::int4,
                    (SELECT s.relname::text FROM pg_catalog.pg_depend dep
                       JOIN pg_catalog.pg_class s ON s.oid = dep.objid AND s.relkind = 'S'
                      WHERE dep.refclassid = 'pg_catalog.pg_class'::regclass
                        AND dep.refobjid = a.attrelid AND dep.refobjsubid = a.attnum AND dep.deptype = 'a'
                        AND dep.classid = 'pg_catalog.pg_class'::regclass LIMIT 1)
             FROM pg_catalog.pg_attribute a
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
             JOIN pg_catalog.pg_type base ON base.oid = CASE WHEN t.typcategory = 'A' THEN t.typelem ELSE t.oid END
             JOIN pg_catalog.pg_namespace bn ON bn.oid = base.typnamespace
             LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum",
            &[&oid],
        )
        .await?
        .iter()
        .map(|row| {
            let type_schema: Option<String> = row.get(7);
            let type_name: Option<String> = row.get(8);
            let formatted: String = row.get(1);
            // attndims is not enforced (often 0); format_type writes one [] per dimension.
            let depth = formatted.matches("[]").count();
            let default: Option<String> = row.get(3);
            let sequence: Option<String> = row.get(10);
            // Only a `nextval` of the column's own sequence makes it a serial.
            let owned_sequence = sequence.filter(|_| default.as_deref().is_some_and(|d| d.starts_with("nextval(")));
            LiveColumn {
                name: row.get(0),
                type_name: row.get(1),
                user_type: type_schema.zip(type_name).map(|(schema, name)| (schema, name, depth)),
                not_null: row.get(2),
                default,
                identity: row.get(4),
                generated: row.get(5),
                owned_sequence,
                comment: row.get(6),
            }
        })
        .collect();

    let constraints = client
        .query(
            "SELECT con.conname::text, con.contype::text, pg_catalog.pg_get_constraintdef(con.oid, true),
                    ARRAY(SELECT att.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(num, ord)
                          JOIN pg_catalog.pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = k.num
                          ORDER BY k.ord),
                    rn.nspname::text, rc.relname::text,
                    ARRAY(SELECT att.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(num, ord)
                          JOIN pg_catalog.pg_attribute att ON att.attrelid = con.confrelid AND att.attnum = k.num
                          ORDER BY k.ord),
                    con.confdeltype::text, con.confupdtype::text,
                    pg_catalog.pg_get_expr(con.conbin, con.conrelid), con.convalidated, con.condeferrable,
                    con.condeferred
             FROM pg_catalog.pg_constraint con
             LEFT JOIN pg_catalog.pg_class rc ON rc.oid = con.confrelid
             LEFT JOIN pg_catalog.pg_namespace rn ON rn.oid = rc.relnamespace
             WHERE con.conrelid = $1
             ORDER BY con.conname",
            &[&oid],
        )
        .await?
        .iter()
        .map(|row| {
            let kind: String = row.get(1);
            let referenced_schema: Option<String> = row.get(4);
            let referenced_table: Option<String> = row.get(5);
            LiveConstraint {
                name: row.get(0),
                definition: row.get(2),
                columns: row.get(3),
                references: referenced_schema.zip(referenced_table).map(|(s, t)| (s, t, row.get(6))),
                actions: (kind == "f").then(|| (row.get(7), row.get(8))),
                expression: row.get(9),
                validated: row.get(10),
                deferrable: row.get(11),
                deferred: row.get(12),
                kind,
            }
        })
        .collect();

    let indexes = client
        .query(
            "SELECT ic.relname::text, pg_catalog.pg_get_indexdef(i.indexrelid), am.amname::text, i.indisunique,
                    (SELECT con.conname::text FROM pg_catalog.pg_constraint con
                      WHERE con.conindid = i.indexrelid AND con.conrelid = i.indrelid LIMIT 1),
                    ARRAY(SELECT CASE WHEN k.num = 0 THEN NULL ELSE att.attname::text END
                          FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(num, ord)
                          LEFT JOIN pg_catalog.pg_attribute att ON att.attrelid = i.indrelid AND att.attnum = k.num
                          WHERE k.ord <= i.indnkeyatts ORDER BY k.ord),
                    ARRAY(SELECT att.attname::text
                          FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(num, ord)
                          JOIN pg_catalog.pg_attribute att ON att.attrelid = i.indrelid AND att.attnum = k.num
                          WHERE k.ord > i.indnkeyatts ORDER BY k.ord),
                    pg_catalog.pg_get_expr(i.indpred, i.indrelid), i.indisvalid,
                    EXISTS (SELECT 1 FROM unnest(i.indcollation::oid[]) c
                            WHERE c <> 0 AND c <> (SELECT oid FROM pg_catalog.pg_collation WHERE collname = 'default')),
                    ARRAY(SELECT o::int4 FROM unnest(i.indoption::int2[]) WITH ORDINALITY AS k(o, ord)
                          WHERE k.ord <= i.indnkeyatts ORDER BY k.ord),
                    ARRAY(SELECT CASE WHEN opc.opcdefault THEN NULL ELSE opc.opcname::text END
                          FROM unnest(i.indclass::oid[]) WITH ORDINALITY AS cl(oid, ord)
                          JOIN pg_catalog.pg_opclass opc ON opc.oid = cl.oid
                          WHERE cl.ord <= i.indnkeyatts ORDER BY cl.ord),
                    -- PostgreSQL 15's column, read so that older servers answer too.
                    coalesce((to_jsonb(i) ->> 'indnullsnotdistinct')::boolean, false)
             FROM pg_catalog.pg_index i
             JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
             JOIN pg_catalog.pg_am am ON am.oid = ic.relam
             WHERE i.indrelid = $1
             ORDER BY ic.relname",
            &[&oid],
        )
        .await?
        .iter()
        .map(|row| LiveIndex {
            name: row.get(0),
            definition: row.get(1),
            method: row.get(2),
            unique: row.get(3),
            constraint: row.get(4),
            key_columns: row.get(5),
            include: row.get(6),
            predicate: row.get(7),
            valid: row.get(8),
            has_collation: row.get(9),
            options: row.get(10),
            operator_classes: row.get(11),
            nulls_not_distinct: row.get(12),
        })
        .collect();

    let enums = client
        .query(
            "SELECT DISTINCT n.nspname::text, t.typname::text,
                    ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)
             FROM pg_catalog.pg_attribute a
             JOIN pg_catalog.pg_type at ON at.oid = a.atttypid
             JOIN pg_catalog.pg_type t ON t.oid = CASE WHEN at.typcategory = 'A' THEN at.typelem ELSE at.oid END
             JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND t.typtype = 'e'
             ORDER BY 1, 2",
            &[&oid],
        )
        .await?
        .iter()
        .map(|row| LiveEnum { schema: row.get(0), name: row.get(1), labels: row.get(2) })
        .collect();

    Ok(Some(LiveTable {
        schema: schema.to_owned(),
        name: name.to_owned(),
        kind,
        comment,
        columns,
        constraints,
        indexes,
        enums,
    }))
}

/// Every ordinary and partitioned table as `(schema, name)`, sorted: of `schema` when given,
/// else of every schema but PostgreSQL's own and the registry's bookkeeping on a target
/// (`schema_registry`). Partitions are left out: they are read through their parent.
pub async fn tables(
    client: &impl GenericClient,
    schema: Option<&str>,
) -> Result<Vec<(String, String)>, IntrospectError> {
    let rows = client
        .query(
            "SELECT n.nspname::text, c.relname::text
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND CASE WHEN $1::text IS NULL
                        THEN n.nspname NOT IN ('pg_catalog', 'information_schema', 'schema_registry')
                             AND n.nspname NOT LIKE 'pg\\_%'
                        ELSE n.nspname = $1 END
             ORDER BY 1, 2",
            &[&schema],
        )
        .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// Whether `schema` exists, and every relation, constraint and type name in it.
pub async fn namespace(
    client: &impl GenericClient,
    schema: &str,
) -> Result<(bool, Vec<NamespaceEntry>), IntrospectError> {
    let exists: bool = client.query_one("SELECT to_regnamespace($1) IS NOT NULL", &[&schema]).await?.get(0);
    if !exists {
        return Ok((false, Vec::new()));
    }
    let mut entries = Vec::new();
    for row in client
        .query(
            "SELECT c.relname::text, c.relkind::text, t.relname::text
             FROM pg_catalog.pg_class c
             LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid
             LEFT JOIN pg_catalog.pg_class t ON t.oid = i.indrelid
             WHERE c.relnamespace = to_regnamespace($1)",
            &[&schema],
        )
        .await?
    {
        entries.push(NamespaceEntry {
            space: "relation",
            name: row.get(0),
            kind: row.get(1),
            table: row.get(2),
            labels: None,
            used_by: Vec::new(),
        });
    }
    for row in client
        .query(
            "SELECT con.conname::text, con.contype::text, rel.relname::text
             FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class rel ON rel.oid = con.conrelid
             WHERE con.connamespace = to_regnamespace($1)",
            &[&schema],
        )
        .await?
    {
        entries.push(NamespaceEntry {
            space: "constraint",
            name: row.get(0),
            kind: row.get(1),
            table: row.get(2),
            labels: None,
            used_by: Vec::new(),
        });
    }
    for row in client
        .query(
            "SELECT t.typname::text, t.typtype::text,
                    CASE WHEN t.typtype = 'e' THEN ARRAY(SELECT e.enumlabel::text FROM pg_catalog.pg_enum e
                                                        WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END,
                    -- A column depends on its type (or its array type): pg_depend's index
                    -- finds them without reading every column of the database.
                    ARRAY(SELECT DISTINCT c.relname::text FROM pg_catalog.pg_depend dep
                          JOIN pg_catalog.pg_class c ON c.oid = dep.objid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                          WHERE dep.refclassid = 'pg_catalog.pg_type'::regclass
                            AND dep.refobjid IN (t.oid, t.typarray) AND dep.refobjsubid = 0
                            AND dep.classid = 'pg_catalog.pg_class'::regclass AND dep.objsubid > 0)
             FROM pg_catalog.pg_type t
             WHERE t.typnamespace = to_regnamespace($1) AND t.typtype IN ('e', 'd', 'r', 'm', 'b')
                OR (t.typnamespace = to_regnamespace($1) AND t.typtype = 'c'
                    AND (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')",
            &[&schema],
        )
        .await?
    {
        let labels: Option<Vec<String>> = row.get(2);
        entries.push(NamespaceEntry {
            space: "type",
            name: row.get(0),
            kind: row.get(1),
            table: None,
            labels,
            used_by: row.get(3),
        });
    }
    Ok((true, entries))
}
