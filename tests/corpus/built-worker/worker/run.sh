echo "$GREETING, token $(cat "$TOKEN_FILE")" > /tmp/out
echo ok > /tmp/healthy
exec sleep 100000
