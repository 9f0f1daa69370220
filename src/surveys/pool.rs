//! The pool of anonymous answers: an answer to an anonymous survey waits here, sealed under a key derived from
//! the server's secret (`STEWARD_SECRET_KEY`), until [`flush`] moves submitted answers into the results in
//! shuffled batches of at least the survey's minimum group, in one transaction, under random ids.
//!
//! A pool row carries no invitation, person, organization or time: a random id (its only order), the survey,
//! a locator (HMAC under the secret of the respondent's link, which a reader of the database cannot compute
//! even with the link from a delivered email), and the sealed answers, padded so their length says little.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use diesel::prelude::*;
use rand::seq::SliceRandom;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use serde::{Deserialize, Serialize};

use super::model::{Answer, Survey};
use crate::accounts::tokens::{hash_token, random_token};
use crate::config::SigningKey;
use crate::db::schema::{survey_answers, survey_pool, survey_responses, surveys};
use crate::db::{self, DbConn};
use crate::domain::ServiceError;

/// Sealed answers are padded to a multiple of this many bytes.
const PAD: usize = 4096;

/// What a pool row holds, sealed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pooled {
    /// `draft` or `submitted`.
    pub status: String,
    /// The organization's membership tier; kept in the results only where its group in the batch is large
    /// enough.
    pub tier: Option<i64>,
    pub answers: BTreeMap<i64, Answer>,
}

fn derive(key: &SigningKey, purpose: &str) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key.0.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(purpose.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

fn aead(key: &SigningKey) -> Result<LessSafeKey, ServiceError> {
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, &derive(key, "steward:survey-pool:seal:v1"))
        .map_err(|_| ServiceError::Internal("deriving the pool key".into()))?;
    Ok(LessSafeKey::new(unbound))
}

/// Where a personal link's answers wait: HMAC under the secret, so only the server finds them from the link.
pub fn locator(key: &SigningKey, token: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&derive(key, "steward:survey-pool:locate:v1"))
        .expect("HMAC accepts keys of any length");
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Seals `pooled` for `survey_id` (bound as associated data, so a row cannot be moved to another survey).
pub fn seal(key: &SigningKey, survey_id: i64, pooled: &Pooled) -> Result<String, ServiceError> {
    let mut plain = serde_json::to_vec(pooled).map_err(|e| ServiceError::Internal(e.to_string()))?;
    // JSON allows trailing spaces: the padding reads back as nothing.
    plain.resize(plain.len().div_ceil(PAD).max(1) * PAD, b' ');
    let nonce_bytes: [u8; NONCE_LEN] = rand::random();
    aead(key)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(survey_id.to_le_bytes()),
            &mut plain,
        )
        .map_err(|_| ServiceError::Internal("sealing pooled answers".into()))?;
    let mut out = nonce_bytes.to_vec();
    out.extend_from_slice(&plain);
    Ok(base64::engine::general_purpose::STANDARD.encode(out))
}

/// Opens what [`seal`] sealed; fails when the key is not the one it was sealed with.
pub fn open(key: &SigningKey, survey_id: i64, sealed: &str) -> Result<Pooled, ServiceError> {
    let broken = || ServiceError::Internal("a pooled answer does not open with this server's secret key".into());
    let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).map_err(|_| broken())?;
    if bytes.len() < NONCE_LEN {
        return Err(broken());
    }
    let (nonce, rest) = bytes.split_at(NONCE_LEN);
    let mut rest = rest.to_vec();
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| broken())?;
    let plain = aead(key)?.open_in_place(nonce, Aad::from(survey_id.to_le_bytes()), &mut rest).map_err(|_| broken())?;
    serde_json::from_slice(plain).map_err(|_| broken())
}

/// A random key for a pool row: hex of 16 random bytes.
fn random_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The pool row behind a locator, opened: (row id, contents).
pub fn find(
    conn: &mut DbConn,
    key: &SigningKey,
    survey_id: i64,
    locator: &str,
) -> Result<Option<(String, Pooled)>, ServiceError> {
    let row: Option<(String, String)> = survey_pool::table
        .filter(survey_pool::survey_id.eq(survey_id))
        .filter(survey_pool::locator.eq(locator))
        .select((survey_pool::id, survey_pool::sealed))
        .first(conn)
        .optional()?;
    match row {
        Some((id, sealed)) => Ok(Some((id, open(key, survey_id, &sealed)?))),
        None => Ok(None),
    }
}

/// Writes `pooled` under `locator`: a new row, or the existing one's contents replaced.
pub fn put(
    conn: &mut DbConn,
    key: &SigningKey,
    survey_id: i64,
    locator: &str,
    existing: Option<&str>,
    pooled: &Pooled,
) -> Result<(), ServiceError> {
    let sealed = seal(key, survey_id, pooled)?;
    match existing {
        Some(id) => {
            diesel::update(survey_pool::table.find(id)).set(survey_pool::sealed.eq(sealed)).execute(conn)?;
        }
        None => {
            diesel::insert_into(survey_pool::table)
                .values((
                    survey_pool::id.eq(random_id()),
                    survey_pool::survey_id.eq(survey_id),
                    survey_pool::locator.eq(locator),
                    survey_pool::sealed.eq(sealed),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// How many submitted answers to move now, of `submitted` waiting: while answers may still come, only when
/// at least twice the minimum wait, and then all but the minimum, so every batch (the last one, at close,
/// included) holds at least the minimum; once no more can come, all of them.
pub fn batch_size(submitted: usize, min: usize, final_batch: bool) -> usize {
    let min = min.max(1);
    if final_batch {
        submitted
    } else if submitted >= 2 * min {
        submitted - min
    } else {
        0
    }
}

/// The tiers kept in a batch: those with at least `min` answers in it; the others' answers lose their tier.
pub fn kept_tiers(tiers: &[Option<i64>], min: usize) -> Vec<Option<i64>> {
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for t in tiers.iter().flatten() {
        *counts.entry(*t).or_default() += 1;
    }
    tiers.iter().map(|t| t.filter(|t| counts.get(t).copied().unwrap_or(0) >= min)).collect()
}

/// Moves a survey's pooled answers into the results (see [`batch_size`]); `final_batch` (the survey closed, or
/// its closing time passed) moves every submitted answer and drops the drafts. One transaction: on
/// PostgreSQL the batch shares one xmin, and rows are written in shuffled order. Returns how many moved.
pub fn flush(conn: &mut DbConn, key: &SigningKey, survey: &Survey, final_batch: bool) -> Result<usize, ServiceError> {
    db::write_transaction(conn, |conn| {
        let rows: Vec<(String, String)> = survey_pool::table
            .filter(survey_pool::survey_id.eq(survey.id))
            .select((survey_pool::id, survey_pool::sealed))
            .load(conn)?;
        let mut submitted = Vec::new();
        let mut drafts = Vec::new();
        for (id, sealed) in rows {
            let pooled = open(key, survey.id, &sealed)?;
            if pooled.status == "submitted" {
                submitted.push((id, pooled));
            } else {
                drafts.push(id);
            }
        }
        let min = usize::try_from(survey.min_group_size).unwrap_or(1);
        let take = batch_size(submitted.len(), min, final_batch);
        submitted.shuffle(&mut rand::rng());
        submitted.truncate(take);
        let tiers = kept_tiers(&submitted.iter().map(|(_, p)| p.tier).collect::<Vec<_>>(), min);
        let today = db::now().date();
        for ((pool_id, pooled), tier) in submitted.iter().zip(tiers) {
            let id = random_response_id(conn)?;
            diesel::insert_into(survey_responses::table)
                .values((
                    survey_responses::id.eq(id),
                    survey_responses::survey_id.eq(survey.id),
                    // Nothing finds a counted anonymous response again: a hash of a token nobody holds.
                    survey_responses::resume_hash.eq(hash_token(&random_token())),
                    survey_responses::tier_id.eq(tier),
                    survey_responses::status.eq("submitted"),
                    survey_responses::updated_on.eq(today),
                ))
                .execute(conn)?;
            for (question_id, a) in &pooled.answers {
                diesel::insert_into(survey_answers::table)
                    .values((
                        survey_answers::response_id.eq(id),
                        survey_answers::question_id.eq(question_id),
                        survey_answers::value
                            .eq(serde_json::to_string(a).map_err(|e| ServiceError::Internal(e.to_string()))?),
                    ))
                    .execute(conn)?;
            }
            diesel::delete(survey_pool::table.find(pool_id)).execute(conn)?;
        }
        if final_batch {
            diesel::delete(survey_pool::table.filter(survey_pool::id.eq_any(&drafts))).execute(conn)?;
        }
        Ok(take)
    })
}

/// Flushes every survey with pooled answers (the scheduled job): open ones by batches, and all of those whose
/// closing time has passed. Returns how many answers moved.
pub fn flush_all(conn: &mut DbConn, key: &SigningKey) -> Result<usize, ServiceError> {
    let pooled: Vec<i64> = survey_pool::table.select(survey_pool::survey_id).distinct().load(conn)?;
    let mut moved = 0;
    for id in pooled {
        let survey: Survey = surveys::table.find(id).select(Survey::as_select()).first(conn)?;
        let now = db::now();
        let final_batch = survey.status == "closed" || now >= survey.closes_at;
        moved += flush(conn, key, &survey, final_batch)?;
    }
    Ok(moved)
}

/// A random response id: the order of ids says nothing about who answered when.
pub fn random_response_id(conn: &mut DbConn) -> Result<i64, ServiceError> {
    loop {
        let candidate = i64::from_le_bytes(rand::random::<[u8; 8]>()) & i64::MAX;
        let taken: i64 = survey_responses::table.filter(survey_responses::id.eq(candidate)).count().get_result(conn)?;
        if candidate > 0 && taken == 0 {
            return Ok(candidate);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn key(s: &str) -> SigningKey {
        SigningKey(Secret::new(s.to_string()))
    }

    #[test]
    fn sealed_answers_open_only_with_the_same_key_and_survey_and_hide_their_length() {
        let k = key("a secret key of more than thirty-two characters");
        let short = Pooled { status: "draft".into(), tier: Some(3), answers: BTreeMap::from([(1, Answer::Number(4))]) };
        let long = Pooled {
            status: "submitted".into(),
            tier: None,
            answers: BTreeMap::from([(2, Answer::Text("x".repeat(3000)))]),
        };
        let (a, b) = (seal(&k, 7, &short).unwrap(), seal(&k, 7, &long).unwrap());
        assert_eq!(a.len(), b.len(), "padded to the same size");
        assert_ne!(seal(&k, 7, &short).unwrap(), a, "a fresh nonce each time");
        assert_eq!(open(&k, 7, &a).unwrap(), short);
        assert_eq!(open(&k, 7, &b).unwrap(), long);
        assert!(open(&k, 8, &a).is_err(), "bound to its survey");
        assert!(open(&key("another secret key of more than thirty-two characters"), 7, &a).is_err());
        assert_ne!(locator(&k, "t"), locator(&key("other key of more than thirty-two characters!!"), "t"));
        assert_ne!(locator(&k, "t"), hash_token("t"));
    }

    #[test]
    fn batches_hold_at_least_the_minimum_and_leave_at_least_the_minimum() {
        assert_eq!(batch_size(2, 3, false), 0);
        assert_eq!(batch_size(5, 3, false), 0);
        assert_eq!(batch_size(6, 3, false), 3);
        assert_eq!(batch_size(10, 3, false), 7);
        assert_eq!(batch_size(4, 3, true), 4);
        assert_eq!(batch_size(1, 0, false), 0);
        assert_eq!(kept_tiers(&[Some(1), Some(2), Some(1), None], 2), vec![Some(1), None, Some(1), None]);
    }
}
