//! `rpod build`: Containerfiles into images.

pub mod parse;
