//! The named per-CPU counter structs of the kernel programs share one definition shape.

/// Defines a counters struct and its field list from one table, so `sum`, `delta_since` and
/// `iter` cannot forget a counter. Field order = the C struct's order.
macro_rules! named_counters {
    ($(#[$sdoc:meta])* $name:ident; $( $(#[$doc:meta])* $field:ident, )*) => {
        $(#[$sdoc])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            $( $(#[$doc])* pub $field: u64, )*
        }

        impl $name {
            /// Every field name, in layout order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($field)),*];

            /// Adds up the per-CPU copies read from the map. Wrapping, like the kernel's own
            /// `+= 1`: a counter that wraps must not panic the daemon.
            pub fn sum<'a>(per_cpu: impl IntoIterator<Item = &'a $name>) -> $name {
                per_cpu.into_iter().fold($name::default(), |acc, c| $name {
                    $( $field: acc.$field.wrapping_add(c.$field), )*
                })
            }

            /// Field-wise `self - earlier`, for "which counters moved" checks.
            pub fn delta_since(&self, earlier: &$name) -> $name {
                $name {
                    $( $field: self.$field.wrapping_sub(earlier.$field), )*
                }
            }

            /// `(name, value)` of every counter, in layout order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> {
                [$( (stringify!($field), self.$field) ),*].into_iter()
            }
        }
    };
}
