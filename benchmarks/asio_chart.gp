# The Asio comparison (asio_table.py's asio.dat): each figure relative to
# asio::ssl::stream, higher is better (heap per idle connection inverted).
# Usage: gnuplot -e "data='asio.dat'; out='asio.png'" benchmarks/asio_chart.gp
if (!exists("data")) data = 'asio.dat'
if (!exists("out")) out = 'asio.png'
set terminal pngcairo size 800,480 font "sans,11"
set output out
set title "Asio streams over TCP loopback (TLS 1.2, AES-128-GCM; median of 5 rounds)"
set ylabel "relative to asio::ssl::stream (higher is better)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set yrange [0:*]
set grid ytics
set key top right
plot data using 2:xtic(1) title "tlsw::asio::stream", \
     data using 3 title "asio::ssl::stream (OpenSSL 3)", \
     data using 4 title "tlsw poll() loop"
