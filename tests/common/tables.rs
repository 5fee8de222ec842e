//! Parquet columns as plain vectors, for assertions.

use polars::prelude::{DataFrame, DataType};

/// Column `col` as f64 (cast from any numeric type), nulls as NaN.
pub fn f64s(df: &DataFrame, col: &str) -> Vec<f64> {
    let c = df.column(col).unwrap().cast(&DataType::Float64).unwrap();
    c.f64()
        .unwrap()
        .iter()
        .map(|x| x.unwrap_or(f64::NAN))
        .collect()
}

/// Column `col` as u64 (cast from any integer type); a null fails the test.
pub fn u64s(df: &DataFrame, col: &str) -> Vec<u64> {
    let c = df.column(col).unwrap().cast(&DataType::UInt64).unwrap();
    c.u64().unwrap().into_no_null_iter().collect()
}

/// A string column, nulls as "".
pub fn strs(df: &DataFrame, col: &str) -> Vec<String> {
    let c = df.column(col).unwrap().str().unwrap().clone();
    c.iter().map(|x| x.unwrap_or("").to_string()).collect()
}

/// The values of a u64 column, None for nulls.
pub fn u64_opts(df: &DataFrame, col: &str) -> Vec<Option<u64>> {
    df.column(col).unwrap().u64().unwrap().iter().collect()
}

/// The values of an f64 column, None for nulls.
pub fn f64_opts(df: &DataFrame, col: &str) -> Vec<Option<f64>> {
    df.column(col).unwrap().f64().unwrap().iter().collect()
}

/// The values of a boolean column, None for nulls.
pub fn bool_opts(df: &DataFrame, col: &str) -> Vec<Option<bool>> {
    df.column(col).unwrap().bool().unwrap().iter().collect()
}

/// The column names, in table order.
pub fn column_names(df: &DataFrame) -> Vec<String> {
    df.get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect()
}
