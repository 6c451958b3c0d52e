//! Every rule, one module each, grouped by category. Adding a rule is one file under
//! `rules/<category>/` plus its name in the list below.

macro_rules! rules {
    ($($category:ident { $($rule:ident),* $(,)? })*) => {
        $(
            #[doc = concat!("Rules of the `", stringify!($category), "` category.")]
            pub(crate) mod $category {
                $(pub(crate) mod $rule;)*
            }
        )*
        /// Every rule, in registry order.
        pub(crate) static ALL: &[&crate::rule::RuleDef] = &[$($(&$category::$rule::RULE,)*)*];
    };
}

rules! {
    table {
        already_exists, missing_schema, name_mismatch, require_audit_user_columns, require_columns, require_comment, require_created_at,
        require_primary_key, require_soft_delete, require_updated_at, require_version_column, reserved_schema,
        single_primary_key,
    }
    column {
        audit_timestamp_shape, ban_char, ban_float_for_money, ban_money_type, bigint_javascript_unsafe,
        boolean_prefix, conflicting_default, default_fits_type, duplicate_name, external_id_as_text, prefer_identity, prefer_jsonb,
        prefer_text, primary_key_not_null, timestamp_with_time_zone, uuid_primary_key_default,
    }
    naming {
        column_snake_case, duplicate_object_name, identifier_valid, name_taken, object_prefix, reserved_word,
        table_plural, table_prefix, table_snake_case,
    }
    index {
        duplicate, foreign_key_covered, jsonb_gin, method_compatible, recommended_columns, require_columns,
        unknown_column,
    }
    constraint { foreign_key_arity, foreign_key_on_delete, unknown_column }
    safety { unsafe_check, unsafe_default, unsafe_index_predicate }
    enums { conflicting_definition, shared, unused, valid_values }
    request { require_justification, require_owner, require_requester }
    change {
        compatibility, drops_column, drops_constraint, narrows_type, not_null_without_default, removes_enum_value,
        renames, rewrites_table,
    }
    statement {
        add_not_null_column, concurrently_in_transaction, constraint_not_valid, drops_data, file_mixes_tables_and_code,
        grant_to_named_user, placeholder_data, rename, require_concurrent_index, require_concurrent_index_drop,
        require_if_exists, require_lock_timeout, set_not_null, type_change_rewrites, unnamed_constraint, volatile_default,
    }
}
