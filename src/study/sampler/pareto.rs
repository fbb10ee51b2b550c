//! Multi-objective helpers shared by multi-objective TPE and NSGA-II, after Optuna's
//! `study/_multi_objective.py` and `_hypervolume/`: non-domination ranks, hypervolume, and the
//! greedy hypervolume subset selection (HSSP). All values are losses (smaller is better):
//! callers negate maximized objectives first.

use std::cmp::Ordering;

use crate::model::StudyDirection;

/// Optuna's `EPS`, the reference-point coordinate used instead of 0.
const EPS: f64 = 1e-12;

/// The objective values of a trial as losses: maximized objectives negated.
pub(crate) fn losses(values: &[f64], directions: &[StudyDirection]) -> Vec<f64> {
    values
        .iter()
        .zip(directions)
        .map(|(v, d)| if *d == StudyDirection::Maximize { -v } else { *v })
        .collect()
}

/// Whether loss vector `a` dominates `b` (no worse anywhere, not equal: Optuna's `_dominates`).
pub(crate) fn dominates(a: &[f64], b: &[f64]) -> bool {
    a != b && a.iter().zip(b).all(|(x, y)| x <= y)
}

fn lex(a: &[f64], b: &[f64]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.partial_cmp(y).unwrap_or(Ordering::Equal))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

/// numpy's `unique(rows, axis=0, return_index=True, return_inverse=True)`: the distinct rows in
/// lexicographic order, for each input row the position of its distinct row, and for each
/// distinct row the index of its first occurrence.
fn unique_rows(rows: &[Vec<f64>]) -> (Vec<Vec<f64>>, Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|i, j| lex(&rows[*i], &rows[*j]));
    let mut unique: Vec<Vec<f64>> = Vec::new();
    let mut first = Vec::new();
    let mut inverse = vec![0; rows.len()];
    for i in order {
        if unique.last().is_none_or(|u| lex(u, &rows[i]) != Ordering::Equal) {
            unique.push(rows[i].clone());
            first.push(i);
        }
        inverse[i] = unique.len() - 1;
    }
    (unique, inverse, first)
}

/// Which rows of `rows` (distinct, lexicographically sorted) no other row dominates.
fn pareto_front_of_sorted(rows: &[&Vec<f64>]) -> Vec<bool> {
    let n = rows.len();
    let mut on_front = vec![false; n];
    if n == 0 {
        return on_front;
    }
    let d = rows[0].len();
    if d == 1 {
        on_front[0] = true;
    } else if d == 2 {
        // Sorted by the first loss: a row is on the front iff its second loss is a new minimum.
        let mut best = f64::INFINITY;
        for (i, r) in rows.iter().enumerate() {
            if i == 0 || r[1] < best {
                on_front[i] = true;
            }
            best = best.min(r[1]);
        }
    } else {
        // The first remaining row is never dominated by a later one (lexicographic order); drop
        // the rows it dominates and repeat.
        let mut remaining: Vec<usize> = (0..n).collect();
        while let Some(&top) = remaining.first() {
            on_front[top] = true;
            remaining.retain(|i| (1..d).any(|j| rows[*i][j] < rows[top][j]));
        }
    }
    on_front
}

/// Non-domination ranks (0 = the Pareto front) of the loss vectors `rows`, equal rows sharing a
/// rank. With `n_below`, fronts are peeled only until `n_below` distinct rows are ranked and the
/// rest share the next rank (Optuna's `_fast_non_domination_rank`).
pub(crate) fn non_domination_ranks(rows: &[Vec<f64>], n_below: Option<usize>) -> Vec<usize> {
    if rows.is_empty() {
        return Vec::new();
    }
    let (unique, inverse, _) = unique_rows(rows);
    let n_unique = unique.len();
    let n_below = n_below.unwrap_or(n_unique).min(n_unique);
    let mut ranks = vec![0; n_unique];
    let mut remaining: Vec<usize> = (0..n_unique).collect();
    let mut rank = 0;
    while n_unique - remaining.len() < n_below {
        let rows_left: Vec<&Vec<f64>> = remaining.iter().map(|i| &unique[*i]).collect();
        let on_front = pareto_front_of_sorted(&rows_left);
        let mut next = Vec::with_capacity(remaining.len());
        for (i, front) in remaining.iter().zip(on_front) {
            if front {
                ranks[*i] = rank;
            } else {
                next.push(*i);
            }
        }
        remaining = next;
        rank += 1;
    }
    for i in remaining {
        ranks[i] = rank;
    }
    inverse.iter().map(|u| ranks[*u]).collect()
}

/// The hypervolume dominated by `points` (losses) and bounded by `reference` (exact; meant for
/// the small sets of a tie-break and for benchmarks).
pub(crate) fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let pts: Vec<&[f64]> = points
        .iter()
        .map(Vec::as_slice)
        .filter(|p| p.iter().zip(reference).all(|(x, r)| x < r))
        .collect();
    hv(&pts, reference)
}

fn hv(points: &[&[f64]], reference: &[f64]) -> f64 {
    if points.is_empty() {
        return 0.0;
    }
    let d = reference.len();
    if d == 1 {
        let best = points.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
        return reference[0] - best;
    }
    if d == 2 {
        let mut pts = points.to_vec();
        pts.sort_by(|a, b| lex(a, b));
        let mut area = 0.0;
        let mut y = reference[1];
        for p in pts {
            if p[1] < y {
                area += (reference[0] - p[0]) * (y - p[1]);
                y = p[1];
            }
        }
        return area;
    }
    // Slice along the last objective: between consecutive levels, the (d-1)-volume of the
    // points at or below the level.
    let last = d - 1;
    let mut pts = points.to_vec();
    pts.sort_by(|a, b| a[last].partial_cmp(&b[last]).unwrap_or(Ordering::Equal));
    let mut total = 0.0;
    for i in 0..pts.len() {
        let upper = if i + 1 < pts.len() { pts[i + 1][last] } else { reference[last] };
        let thickness = upper - pts[i][last];
        if thickness > 0.0 {
            let slice: Vec<&[f64]> = pts[..=i].iter().map(|p| &p[..last]).collect();
            total += hv(&slice, &reference[..last]) * thickness;
        }
    }
    total
}

/// Optuna's reference point for a tie-break front: 1.1 x the worst loss of each objective (0.9 x
/// when negative), `EPS` where that is 0.
pub(crate) fn reference_point(rows: &[Vec<f64>]) -> Vec<f64> {
    let d = rows[0].len();
    (0..d)
        .map(|j| {
            let worst = rows.iter().map(|r| r[j]).fold(f64::NEG_INFINITY, f64::max);
            let r = (1.1 * worst).max(0.9 * worst);
            if r == 0.0 { EPS } else { r }
        })
        .collect()
}

/// Greedy hypervolume subset selection (Optuna's `_solve_hssp`): `subset_size` of `indices`
/// (whose loss vectors are `rows`) chosen one by one by largest hypervolume contribution with
/// respect to `reference`; duplicates only when there are fewer distinct rows than wanted.
pub(crate) fn solve_hssp(
    rows: &[Vec<f64>],
    indices: &[usize],
    subset_size: usize,
    reference: &[f64],
) -> Vec<usize> {
    if subset_size >= indices.len() {
        return indices.to_vec();
    }
    let (unique, _, first) = unique_rows(rows);
    if unique.len() < subset_size {
        let mut chosen = vec![false; indices.len()];
        first.iter().for_each(|i| chosen[*i] = true);
        let mut extra = subset_size - unique.len();
        for c in chosen.iter_mut() {
            if extra == 0 {
                break;
            }
            if !*c {
                *c = true;
                extra -= 1;
            }
        }
        return indices.iter().zip(chosen).filter(|(_, c)| *c).map(|(i, _)| *i).collect();
    }
    let picked = if !reference.iter().all(|r| r.is_finite()) || unique.len() == subset_size {
        (0..subset_size).collect()
    } else if reference.len() == 2 {
        hssp_2d(&unique, subset_size, reference)
    } else {
        hssp_lazy(&unique, subset_size, reference)
    };
    picked.into_iter().map(|u| indices[first[u]]).collect()
}

/// Exact greedy selection in two dimensions over distinct, lexicographically sorted rows.
fn hssp_2d(rows: &[Vec<f64>], subset_size: usize, reference: &[f64]) -> Vec<usize> {
    let mut alive: Vec<usize> = (0..rows.len()).collect();
    let mut diags: Vec<[f64; 2]> = vec![[reference[0], reference[1]]; rows.len()];
    let mut selected = Vec::with_capacity(subset_size);
    for _ in 0..subset_size {
        let mut best = 0;
        let mut best_contrib = f64::NEG_INFINITY;
        for (j, (i, diag)) in alive.iter().zip(&diags).enumerate() {
            let c = (diag[0] - rows[*i][0]) * (diag[1] - rows[*i][1]);
            if c > best_contrib {
                best_contrib = c;
                best = j;
            }
        }
        let chosen = alive.remove(best);
        diags.remove(best);
        selected.push(chosen);
        let v = &rows[chosen];
        for (j, diag) in diags.iter_mut().enumerate() {
            if j < best {
                diag[0] = diag[0].min(v[0]);
            } else {
                diag[1] = diag[1].min(v[1]);
            }
        }
    }
    selected
}

/// Greedy selection with lazily refreshed contributions (a contribution only shrinks as the
/// selection grows, so a stale one is an upper bound).
fn hssp_lazy(rows: &[Vec<f64>], subset_size: usize, reference: &[f64]) -> Vec<usize> {
    let mut contribs: Vec<f64> =
        rows.iter().map(|r| r.iter().zip(reference).map(|(x, rf)| rf - x).product()).collect();
    let mut alive: Vec<usize> = (0..rows.len()).collect();
    let mut selected: Vec<usize> = Vec::with_capacity(subset_size);
    let mut hv_selected = 0.0;
    for k in 0..subset_size {
        let (best, _) = alive.iter().enumerate().fold((0, f64::NEG_INFINITY), |acc, (j, i)| {
            if contribs[*i] > acc.1 { (j, contribs[*i]) } else { acc }
        });
        let chosen = alive.remove(best);
        hv_selected += contribs[chosen];
        selected.push(chosen);
        if k + 1 == subset_size {
            break;
        }
        if hv_selected.is_infinite() {
            alive.iter().for_each(|i| contribs[*i] = f64::INFINITY);
            continue;
        }
        let mut order = alive.clone();
        order.sort_by(|a, b| contribs[*b].partial_cmp(&contribs[*a]).unwrap_or(Ordering::Equal));
        let mut max_contrib = 0.0_f64;
        let mut set: Vec<Vec<f64>> = selected.iter().map(|i| rows[*i].clone()).collect();
        for i in order {
            if contribs[i] < max_contrib {
                continue;
            }
            set.push(rows[i].clone());
            contribs[i] = hypervolume(&set, reference) - hv_selected;
            set.pop();
            max_contrib = max_contrib.max(contribs[i]);
        }
    }
    selected
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_peel_fronts_and_share_ties() {
        let rows = vec![
            vec![1.0, 5.0],
            vec![2.0, 2.0],
            vec![5.0, 1.0],
            vec![3.0, 3.0],
            vec![2.0, 2.0],
            vec![6.0, 6.0],
        ];
        assert_eq!(non_domination_ranks(&rows, None), vec![0, 0, 0, 1, 0, 2]);
        // Only the first front is needed: the rest share rank 1.
        assert_eq!(non_domination_ranks(&rows, Some(2)), vec![0, 0, 0, 1, 0, 1]);
        let rows3 = vec![vec![1.0, 2.0, 3.0], vec![2.0, 2.0, 3.0], vec![3.0, 1.0, 1.0]];
        assert_eq!(non_domination_ranks(&rows3, None), vec![0, 1, 0]);
    }

    #[test]
    fn hypervolume_by_hand() {
        let pts = vec![vec![1.0, 3.0], vec![2.0, 2.0], vec![3.0, 1.0]];
        // Staircase under reference (4, 4): 3*1 + 2*1 + 1*1 = 6.
        assert_eq!(hypervolume(&pts, &[4.0, 4.0]), 6.0);
        let cube = vec![vec![1.0, 1.0, 1.0]];
        assert_eq!(hypervolume(&cube, &[2.0, 3.0, 4.0]), 6.0);
        let two = vec![vec![0.0, 0.0, 1.0], vec![1.0, 1.0, 0.0]];
        // [0,2]^2 x [1,2] = 4, plus [1,2]^2 x [0,1] = 1.
        assert_eq!(hypervolume(&two, &[2.0, 2.0, 2.0]), 5.0);
    }

    #[test]
    fn hssp_prefers_the_largest_contribution() {
        let rows = vec![vec![1.0, 3.0], vec![2.0, 2.0], vec![3.0, 1.0]];
        // With reference (4, 4) the middle point's box is 4, the others 3.
        assert_eq!(solve_hssp(&rows, &[10, 11, 12], 1, &[4.0, 4.0]), vec![11]);
        let rows3: Vec<Vec<f64>> = rows.iter().map(|r| vec![r[0], r[1], 0.0]).collect();
        assert_eq!(solve_hssp(&rows3, &[10, 11, 12], 1, &[4.0, 4.0, 1.0]), vec![11]);
        // Fewer distinct rows than wanted: all distinct ones plus the first duplicates.
        let dup = vec![vec![1.0, 1.0], vec![1.0, 1.0], vec![0.0, 2.0]];
        assert_eq!(solve_hssp(&dup, &[5, 6, 7], 2, &[3.0, 3.0]).len(), 2);
    }
}
