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
    table { require_primary_key }
    column { timestamp_with_time_zone }
    naming { }
    index { jsonb_gin }
    constraint { }
    safety { unsafe_default }
    enums { }
    request { }
}
