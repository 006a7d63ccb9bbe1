//! The portal's console pages (placeholder while being written).
pub mod chart;
