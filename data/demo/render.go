package demo

import (
	"image"
	"image/color"
	"math"
)

type shape int

const (
	shapeCircle shape = iota
	shapeSquare
	shapeEllipse
	shapeCar
	shapeTree
	shapeHouse
	shapeBoat
	shapeFish
	shapeSun
	shapeHorse
	shapeStar
	shapeHeart
	shapeRing
)

type texture int

const (
	texSolid texture = iota
	texStripesH
	texStripesV
	texChecker
	texDots
	texNoise
	texWaves
)

// part says which colour a point of a shape takes: 0 outside, 1 the main
// colour (textured), 2 the second colour (a detail such as a roof or wheel).
type part int

// inside tells whether local point (u, v) in [-1,1]² (v down) is part of the
// shape.
func (s shape) inside(u, v float64) part {
	switch s {
	case shapeCircle:
		if u*u+v*v <= 1 {
			return 1
		}
	case shapeSquare:
		if math.Abs(u) <= 0.85 && math.Abs(v) <= 0.85 {
			return 1
		}
	case shapeEllipse:
		// Body plus a head at the right.
		if u*u/0.64+(v-0.1)*(v-0.1)/0.25 <= 1 {
			return 1
		}
		if (u-0.75)*(u-0.75)+(v+0.35)*(v+0.35) <= 0.09 {
			return 2
		}
	case shapeCar:
		if (u+0.5)*(u+0.5)+(v-0.45)*(v-0.45) <= 0.06 || (u-0.5)*(u-0.5)+(v-0.45)*(v-0.45) <= 0.06 {
			return 2
		}
		if math.Abs(u) <= 0.95 && v >= -0.1 && v <= 0.45 {
			return 1
		}
		if math.Abs(u) <= 0.5 && v >= -0.5 && v < -0.1 {
			return 1
		}
	case shapeTree:
		if math.Abs(u) <= 0.15 && v >= 0.5 && v <= 1 {
			return 2
		}
		if v >= -1 && v <= 0.5 && math.Abs(u) <= (v+1)/1.5*0.8 {
			return 1
		}
	case shapeHouse:
		if v >= -0.9 && v < -0.1 && math.Abs(u) <= (v+0.9)*1.15 {
			return 2
		}
		if math.Abs(u) <= 0.75 && v >= -0.1 && v <= 0.9 {
			if math.Abs(u-0.1) <= 0.18 && v >= 0.35 {
				return 2 // door
			}
			return 1
		}
	case shapeBoat:
		if v >= 0.3 && v <= 0.8 && math.Abs(u) <= 1-(v-0.3)*0.8 {
			return 1
		}
		if v >= -0.9 && v < 0.3 && u >= 0 && u <= (v+0.9)*0.6 {
			return 2
		}
	case shapeFish:
		if (u+0.1)*(u+0.1)/0.56+v*v/0.2 <= 1 {
			return 1
		}
		if u >= 0.55 && u <= 1 && math.Abs(v) <= (u-0.55)*1.2 {
			return 2
		}
	case shapeSun:
		r := math.Hypot(u, v)
		if r <= 0.55 {
			return 1
		}
		a := math.Atan2(v, u)
		if r <= 1 && math.Abs(math.Mod(a*12/(2*math.Pi)+12.5, 1)-0.5) < 0.18 {
			return 2
		}
	case shapeHorse:
		if math.Abs(u) <= 0.7 && v >= -0.3 && v <= 0.2 {
			return 1
		}
		for _, x := range []float64{-0.6, -0.35, 0.35, 0.6} {
			if math.Abs(u-x) <= 0.08 && v > 0.2 && v <= 0.95 {
				return 1
			}
		}
		if u >= 0.5 && u <= 0.95 && v >= -0.95 && v <= -0.3 && u-0.5 >= (v+0.95)*0.2 {
			return 2
		}
	case shapeStar:
		r := math.Hypot(u, v)
		a := math.Atan2(v, u) + math.Pi/2
		k := math.Mod(a*5/(2*math.Pi)+10, 1) // 0..1 within one point
		edge := 0.45 + 0.55*math.Abs(1-2*k)*math.Abs(1-2*k)
		if r <= 1-edge+0.45 {
			return 1
		}
	case shapeHeart:
		x, y := u*1.1, -v*1.1+0.25
		q := x*x + y*y - 0.6
		if q*q*q-x*x*y*y*y <= 0 {
			return 1
		}
	case shapeRing:
		r := math.Hypot(u, v)
		if r <= 1 && r >= 0.6 {
			return 1
		}
	}
	return 0
}

// hash01 is a cheap deterministic pseudo-random value in [0,1) for a pixel.
func hash01(x, y int, salt uint32) float64 {
	h := uint32(x)*0x27d4eb2d ^ uint32(y)*0x165667b1 ^ salt*0x9e3779b9
	h ^= h >> 15
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return float64(h) / (1 << 32)
}

// textured picks the main or the second colour at local point (u, v) or
// pixel (x, y).
func textured(t texture, u, v float64, x, y int, a, b [3]uint8) [3]uint8 {
	switch t {
	case texStripesH:
		if int(math.Floor((v+1)*4))%2 == 0 {
			return b
		}
	case texStripesV:
		if int(math.Floor((u+1)*4))%2 == 0 {
			return b
		}
	case texChecker:
		if (int(math.Floor((u+1)*3))+int(math.Floor((v+1)*3)))%2 == 0 {
			return b
		}
	case texDots:
		fu, fv := math.Mod((u+1)*3, 1)-0.5, math.Mod((v+1)*3, 1)-0.5
		if fu*fu+fv*fv < 0.06 {
			return b
		}
	case texNoise:
		if hash01(x, y, 7) < 0.3 {
			return b
		}
	case texWaves:
		if math.Mod(v*6+0.6*math.Sin(u*9)+100, 1) < 0.25 {
			return b
		}
	}
	return a
}

// Render draws a scene as a size×size RGB image.
func Render(im *Image, size int) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, size, size))
	bg := backgrounds[0]
	for _, b := range backgrounds {
		if b.noun == im.Scene {
			bg = b
		}
	}
	kinds := make([]kind, len(im.Objects))
	for i, o := range im.Objects {
		for _, k := range catalog {
			if k.noun == o.Noun {
				kinds[i] = k
			}
		}
	}
	s := float64(size)
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			px, py := (float64(x)+0.5)/s, (float64(y)+0.5)/s
			c := textured(bg.tex, px*2-1, py*2-1, x, y, bg.color, bg.second)
			for i, o := range im.Objects {
				du, dv := (px-o.X)/o.R, (py-o.Y)/o.R
				if du < -1.5 || du > 1.5 || dv < -1.5 || dv > 1.5 {
					continue
				}
				sin, cos := math.Sincos(o.Angle)
				u, v := cos*du+sin*dv, -sin*du+cos*dv
				switch kinds[i].shape.inside(u, v) {
				case 1:
					c = textured(kinds[i].texture, u, v, x, y, kinds[i].color, kinds[i].second)
				case 2:
					c = kinds[i].second
				}
			}
			// A little sensor noise so no two images are flat copies.
			n := int(hash01(x, y, uint32(im.ID))*16) - 8
			out.SetRGBA(x, y, color.RGBA{add(c[0], n), add(c[1], n), add(c[2], n), 255})
		}
	}
	return out
}

func add(c uint8, n int) uint8 {
	v := int(c) + n
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}
