//! Guests used only by skewless's tests live in `guests/`, one cdylib
//! example each; this library is empty.
