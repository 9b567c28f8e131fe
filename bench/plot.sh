#!/usr/bin/env bash
# bench/plot.sh DIR: PNG plots of a chappe-bench report directory (gnuplot):
# the latency distribution of every *-latency.dat / *-delay.dat (latency
# against percentile) and the completions per second of every
# *-throughput.dat. Files absent from DIR are skipped.
set -uo pipefail
dir=$1
command -v gnuplot >/dev/null || { echo "plot.sh: gnuplot not installed" >&2; exit 1; }
status=0
for f in "$dir"/*-latency.dat "$dir"/*-delay.dat; do
	[ -s "$f" ] || continue
	name=$(basename "$f" .dat)
	# percentile of each sorted sample: x = 100 * rank / n
	sort -g "$f" | awk -v n="$(wc -l < "$f")" '{ print 100 * NR / n, $1 }' > "$dir/$name.cdf"
	gnuplot <<-EOF || status=1
	set terminal pngcairo size 900,500 noenhanced
	set output "$dir/$name.png"
	set title "$name: latency by percentile"
	set xlabel "percentile"
	set ylabel "ms"
	set logscale y
	set grid
	set key off
	plot "$dir/$name.cdf" using 1:2 with lines lw 2
	EOF
done
for f in "$dir"/*-throughput.dat; do
	[ -s "$f" ] || continue
	name=$(basename "$f" .dat)
	gnuplot <<-EOF || status=1
	set terminal pngcairo size 900,500 noenhanced
	set output "$dir/$name.png"
	set title "$name: completions per second"
	set xlabel "second of the run"
	set ylabel "per second"
	set yrange [0:*]
	set grid
	set key off
	plot "$f" using 1:2 with linespoints lw 2
	EOF
done
exit $status
