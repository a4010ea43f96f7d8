//! Internal API: price `quantity` units at `unit_price` with volume discounts.
//!
//! Discount tiers live in the `pricing` store under `tiers` (JSON list of
//! `{"min_quantity": n, "discount_pct": p}`), so operators change prices without a deploy;
//! without that key the built-in tiers apply.

use plugboard_guest::{FunctionError, InternalHandler, kv, parse_payload, store, to_payload};
use serde::{Deserialize, Serialize};

struct Quotes;

/// The request other functions send.
#[derive(Deserialize)]
struct QuoteRequest {
    sku: String,
    unit_price: f64,
    quantity: u32,
}

/// One volume discount tier.
#[derive(Serialize, Deserialize, Clone)]
struct Tier {
    min_quantity: u32,
    discount_pct: f64,
}

/// The answer.
#[derive(Serialize)]
struct Quote {
    sku: String,
    quantity: u32,
    unit_price: f64,
    discount_pct: f64,
    total: f64,
}

/// Largest order a quote is given for.
const MAX_QUANTITY: u32 = 1_000_000;

fn default_tiers() -> Vec<Tier> {
    vec![Tier { min_quantity: 10, discount_pct: 5.0 }, Tier { min_quantity: 100, discount_pct: 12.5 }]
}

impl InternalHandler for Quotes {
    fn handle(payload: String) -> Result<String, FunctionError> {
        let request: QuoteRequest = parse_payload(&payload)?;
        if request.quantity == 0 || request.quantity > MAX_QUANTITY {
            return Err(FunctionError::new("ValidationError", format!("quantity must be 1..={MAX_QUANTITY}")));
        }
        if !(request.unit_price.is_finite() && request.unit_price >= 0.0) {
            return Err(FunctionError::new("ValidationError", "unit_price must be a non-negative number"));
        }
        let bucket = store::open("pricing").map_err(|e| FunctionError::new("StoreError", format!("{e:?}")))?;
        let tiers = kv::get_json::<Vec<Tier>>(&bucket, "tiers")
            .map_err(|e| FunctionError::new("StoreError", e.to_string()))?
            .unwrap_or_else(default_tiers);
        let discount_pct =
            tiers.iter().filter(|t| request.quantity >= t.min_quantity).map(|t| t.discount_pct).fold(0.0, f64::max);
        let gross = request.unit_price * f64::from(request.quantity);
        let total = (gross * (100.0 - discount_pct) / 100.0 * 100.0).round() / 100.0;
        let quote =
            Quote { sku: request.sku, quantity: request.quantity, unit_price: request.unit_price, discount_pct, total };
        to_payload(&quote)
    }
}

plugboard_guest::internal_api!(Quotes);

#[cfg(test)]
mod tests {
    use super::*;
    use plugboard_guest::serde_json::{Value, json};
    use plugboard_guest::testing;

    fn total(payload: &str) -> f64 {
        let quote: Value = serde_json::from_str(&Quotes::handle(payload.into()).unwrap()).unwrap();
        quote["total"].as_f64().unwrap()
    }

    #[test]
    fn operators_tiers_in_the_read_only_store_replace_the_built_in_ones() {
        testing::reset();
        let order = r#"{"sku":"lamp","unit_price":10.0,"quantity":100}"#;
        assert_eq!(total(order), 875.0, "built-in tiers: 12.5% from 100");
        testing::seed_json("pricing", "tiers", &json!([{ "min_quantity": 50, "discount_pct": 20.0 }]));
        assert_eq!(total(order), 800.0);
        // The guest itself cannot write the store it was granted read-only.
        assert!(store::open("pricing").unwrap().set("tiers", b"[]").is_err());
    }

    #[test]
    fn a_zero_quantity_is_a_validation_error() {
        let error = Quotes::handle(r#"{"sku":"lamp","unit_price":1.0,"quantity":0}"#.into()).unwrap_err();
        assert_eq!(error.error_type, "ValidationError");
    }
}
