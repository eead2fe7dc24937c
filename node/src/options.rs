//! Limiter options: the JavaScript options object is handed to the core by
//! name (`ratewarden::OPTIONS` holds the table, checked once there); the
//! wrapper (`index.js`) checks the JavaScript types with `optionKinds()`.

use std::collections::HashMap;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use ratewarden::Spelling;

/// Every option's JavaScript name and the kind of value it takes
/// ("integer", "number", "string" or "bytes"), from the core's table.
#[napi(
    ts_return_type = "Record<string, 'integer' | 'number' | 'string' | 'bytes'>",
    catch_unwind
)]
pub fn option_kinds() -> HashMap<String, String> {
    ratewarden::OPTIONS
        .iter()
        .map(|o| (o.js.to_owned(), o.kind.as_str().to_owned()))
        .collect()
}

/// A builder for `url` with the options given (numbers and strings only;
/// the wrapper turns a Buffer certificate into its text).
pub(crate) fn builder(
    url: &str,
    options: Option<HashMap<String, Either<f64, String>>>,
) -> ratewarden::Result<ratewarden::LimiterBuilder> {
    let mut b = ratewarden::Limiter::builder(url);
    for (name, value) in options.into_iter().flatten() {
        b = match value {
            Either::A(n) => b.option_as(Spelling::JavaScript, &name, n)?,
            Either::B(s) => b.option_as(Spelling::JavaScript, &name, s)?,
        };
    }
    Ok(b)
}
