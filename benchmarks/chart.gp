# Throughput over TCP loopback against write size, tlsw beside raw Botan
# and OpenSSL, from table.py's throughput.dat.
# Usage: gnuplot -e "data='throughput.dat'; out='throughput.png'" benchmarks/chart.gp
if (!exists("data")) data = 'throughput.dat'
if (!exists("out")) out = 'throughput.png'
set terminal pngcairo size 800,480 font "sans,11"
set output out
set title "Bulk transfer over TCP loopback, one connection (TLS 1.2, AES-128-GCM; median of 5 runs)"
set xlabel "bytes per write"
set ylabel "MiB/s"
set logscale x 4
set xtics ("64 B" 64, "256 B" 256, "1 KiB" 1024, "4 KiB" 4096, "16 KiB" 16384, "64 KiB" 65536)
set xrange [48:90000]
set yrange [0:*]
set grid
set key top left
set style data linespoints
plot data using 1:2 title "tlsw" lw 2 pt 7, \
     data using 1:3 title "raw Botan" lw 2 pt 5, \
     data using 1:4 title "OpenSSL 3" lw 2 pt 9
