module github.com/ssekit/ssekit/interop

go 1.26.0

require github.com/ssekit/ssekit v0.0.0

replace (
	github.com/ssekit/ssekit => ..
	github.com/ssekit/ssekit/adapters/echo => ../adapters/echo
	github.com/ssekit/ssekit/adapters/echov5 => ../adapters/echov5
	github.com/ssekit/ssekit/adapters/fiber => ../adapters/fiber
	github.com/ssekit/ssekit/adapters/fiberv3 => ../adapters/fiberv3
	github.com/ssekit/ssekit/adapters/gin => ../adapters/gin
	github.com/ssekit/ssekit/adapters/nbio => ../adapters/nbio
	github.com/ssekit/ssekit/broker/redis => ../broker/redis
)

require (
	github.com/gin-gonic/gin v1.12.0
	github.com/gofiber/fiber/v2 v2.52.15
	github.com/gofiber/fiber/v3 v3.1.0
	github.com/labstack/echo/v4 v4.16.0
	github.com/labstack/echo/v5 v5.4.4
	github.com/lesismal/nbio v1.6.8
	github.com/redis/go-redis/v9 v9.23.0
	github.com/ssekit/ssekit/adapters/echo v0.0.0
	github.com/ssekit/ssekit/adapters/echov5 v0.0.0
	github.com/ssekit/ssekit/adapters/fiber v0.0.0
	github.com/ssekit/ssekit/adapters/fiberv3 v0.0.0
	github.com/ssekit/ssekit/adapters/gin v0.0.0
	github.com/ssekit/ssekit/adapters/nbio v0.0.0
	github.com/ssekit/ssekit/broker/redis v0.0.0
	go.uber.org/goleak v1.3.0
)

require github.com/lesismal/llib v1.2.2 // indirect

require (
	github.com/bytedance/gopkg v0.1.3 // indirect
	github.com/bytedance/sonic v1.15.0 // indirect
	github.com/bytedance/sonic/loader v0.5.0 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/cloudwego/base64x v0.1.6 // indirect
	github.com/gabriel-vasile/mimetype v1.4.12 // indirect
	github.com/gin-contrib/sse v1.1.0 // indirect
	github.com/go-playground/locales v0.14.1 // indirect
	github.com/go-playground/universal-translator v0.18.1 // indirect
	github.com/go-playground/validator/v10 v10.30.1 // indirect
	github.com/goccy/go-json v0.10.5 // indirect
	github.com/goccy/go-yaml v1.19.2 // indirect
	github.com/gofiber/schema v1.7.0 // indirect
	github.com/gofiber/utils/v2 v2.0.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/json-iterator/go v1.1.12 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/klauspost/cpuid/v2 v2.4.0 // indirect
	github.com/labstack/gommon v0.5.0 // indirect
	github.com/leodido/go-urn v1.4.0 // indirect
	github.com/mattn/go-colorable v0.1.15 // indirect
	github.com/mattn/go-isatty v0.0.22 // indirect
	github.com/mattn/go-runewidth v0.0.16 // indirect
	github.com/modern-go/concurrent v0.0.0-20180306012644-bacd9c7ef1dd // indirect
	github.com/modern-go/reflect2 v1.0.2 // indirect
	github.com/molecule-man/go-brrr v1.3.1 // indirect
	github.com/pelletier/go-toml/v2 v2.2.4 // indirect
	github.com/philhofer/fwd v1.2.0 // indirect
	github.com/quic-go/qpack v0.6.0 // indirect
	github.com/quic-go/quic-go v0.59.0 // indirect
	github.com/r3labs/sse/v2 v2.10.0
	github.com/rivo/uniseg v0.2.0 // indirect
	github.com/tinylib/msgp v1.6.3 // indirect
	github.com/tmaxmax/go-sse v0.12.0
	github.com/twitchyliquid64/golang-asm v0.15.1 // indirect
	github.com/ugorji/go/codec v1.3.1 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fasthttp v1.78.0
	github.com/valyala/fasttemplate v1.2.2 // indirect
	go.mongodb.org/mongo-driver/v2 v2.5.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	golang.org/x/arch v0.22.0 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/protobuf v1.36.10 // indirect
	gopkg.in/cenkalti/backoff.v1 v1.1.0 // indirect
)
