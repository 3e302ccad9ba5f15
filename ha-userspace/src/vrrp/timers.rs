//! Placeholder: filled in by the VRRP core work.
