//! Choosing what to draw when a study has more trials than a chart can show: the statistics
//! always use every trial; only the marks are thinned.

/// The indices of `0..n` to draw, in increasing order, at most `budget` of them (all of them when
/// `n <= budget`): first every index for which `keep` holds (evenly thinned if they alone exceed
/// the budget), then an even stride over the others to fill the budget. Deterministic.
pub fn pick(n: usize, budget: usize, keep: impl Fn(usize) -> bool) -> Vec<usize> {
    if n <= budget {
        return (0..n).collect();
    }
    let (kept, rest): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| keep(i));
    if kept.len() >= budget {
        return stride(&kept, budget);
    }
    let mut out = stride(&rest, budget - kept.len());
    out.extend(kept);
    out.sort_unstable();
    out
}

/// `k` elements of `v` spread evenly (first included).
fn stride(v: &[usize], k: usize) -> Vec<usize> {
    if v.len() <= k {
        return v.to_vec();
    }
    (0..k).map(|j| v[j * v.len() / k]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_marked_ones_and_fills_evenly() {
        assert_eq!(pick(5, 10, |_| false), vec![0, 1, 2, 3, 4]);
        let p = pick(1000, 100, |i| i == 999 || i == 500);
        assert_eq!(p.len(), 100);
        assert!(p.contains(&999) && p.contains(&500));
        assert!(p.windows(2).all(|w| w[0] < w[1]));
        let p = pick(1000, 10, |i| i % 2 == 0);
        assert_eq!(p, vec![0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
        assert!(pick(10, 0, |_| true).is_empty());
    }
}
