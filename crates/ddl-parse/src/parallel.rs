//! Work shared out over the machine's cores: the splitting and parsing of SQL here, and the
//! lint's rules, report and JSON above. Threads are scoped; the calling thread works too.

/// How many threads the machine runs at once (at most 8).
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get).min(8)
}

/// `judge` of every item, in order, on as many threads as the machine has. The items are
/// taken `chunk` at a time by whichever thread is free, so that slow items do not hold up
/// one thread while the others wait. A panic in `judge` (a bug) goes on in the caller.
pub fn on_every_core<T: Send, R: Send>(items: &mut [T], chunk: usize, judge: impl Fn(&mut T) -> R + Sync) -> Vec<R> {
    let threads = threads();
    if threads < 2 || items.len() <= chunk {
        return items.iter_mut().map(judge).collect();
    }
    // Each chunk is taken by one thread only: its lock is never waited for.
    let chunks: Vec<std::sync::Mutex<&mut [T]>> = items.chunks_mut(chunk).map(std::sync::Mutex::new).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let take = || {
        let mut done = Vec::new();
        loop {
            let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(chunk) = chunks.get(at) else { break };
            let mut part = chunk.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            done.push((at, part.iter_mut().map(&judge).collect::<Vec<R>>()));
        }
        done
    };
    let mut judged = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(take)).collect();
        let mut judged = take();
        for helper in helpers {
            judged.extend(helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        judged
    });
    judged.sort_by_key(|(at, _)| *at);
    judged.into_iter().flat_map(|(_, results)| results).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_come_back_in_the_order_of_the_items() {
        for (count, chunk) in [(0, 1), (1, 1), (5, 64), (1000, 1), (1000, 7), (1000, 64)] {
            let mut items: Vec<usize> = (0..count).collect();
            let judged = super::on_every_core(&mut items, chunk, |n| *n * 2);
            assert_eq!(judged, (0..count).map(|n| n * 2).collect::<Vec<_>>(), "{count} items by {chunk}");
        }
    }
}
