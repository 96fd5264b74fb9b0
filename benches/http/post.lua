-- wrk script: POSTs the JSON body in $WRK_BODY on every request (keep-alive).
wrk.method = "POST"
wrk.body = assert(os.getenv("WRK_BODY"), "set WRK_BODY to the request body")
wrk.headers["Content-Type"] = "application/json"
