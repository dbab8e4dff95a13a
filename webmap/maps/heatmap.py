"""The planner's heat layers: complaints as a heat map, and a heat map per month that plays.

The points are already counted into weighted cells (``geo.heat``), so a page for 50,000
complaints carries a few thousand weighted points, not 50,000 markers.

Animation. One HeatMapWithTime frame per calendar month. Folium's frames are drawn by
heatmap.js, whose intensity scale starts at 1, so the layer passes one scale for all
frames (``geo.heat.MonthlyHeat.scale``). Folium's template calls jQuery's ``$.extend``,
which the offline pages do not load; ``TimeHeatMap`` uses Leaflet's ``L.extend`` instead.
"""

from __future__ import annotations

from folium import plugins
from folium.template import Template

from geo.heat import MonthlyHeat
from geo.heat import WeightedPoints
from webmap.maps.base import js_json

HEAT_GRADIENT = {0.2: "#2c7bb6", 0.4: "#abd9e9", 0.6: "#ffffbf", 0.8: "#fdae61", 1.0: "#d7191c"}


class TimeHeatMap(plugins.HeatMapWithTime):
    """folium's HeatMapWithTime without jQuery, with one intensity scale for all frames.

    The template is folium 0.20's, changed in three places: ``L.extend`` for ``$.extend``
    (the pages load no jQuery), the frames' data carry ``max`` (heatmap.js otherwise
    saturates at a weight of 1, so whole counts can be sent), and the time control is
    hidden while the layer is off the map. Add it to the map itself, not to a FeatureGroup:
    the time dimension belongs to the map.
    """

    _template = Template("""
        {% macro header(this, kwargs) %}
            <script>
            var TDHeatmap = L.TimeDimension.Layer.extend({
                initialize: function(data, options) {
                    var heatmapCfg = {
                        radius: 15,
                        blur: 0.8,
                        maxOpacity: 1.,
                        scaleRadius: false,
                        useLocalExtrema: false,
                        latField: 'lat',
                        lngField: 'lng',
                        valueField: 'count',
                        defaultWeight : 1,
                    };
                    heatmapCfg = L.extend({}, heatmapCfg, options.heatmapOptions || {});
                    var layer = new HeatmapOverlay(heatmapCfg);
                    L.TimeDimension.Layer.prototype.initialize.call(this, layer, options);
                    this._currentLoadedTime = 0;
                    this._currentTimeData = {
                        max: options.maxValue || 1,
                        min: 0,
                        data: []
                        };
                    this.data= data;
                    this.defaultWeight = heatmapCfg.defaultWeight || 1;
                },
                onAdd: function(map) {
                    L.TimeDimension.Layer.prototype.onAdd.call(this, map);
                    map.addLayer(this._baseLayer);
                    if (this._timeDimension) {
                        this._getDataForTime(this._timeDimension.getCurrentTime());
                    }
                },
                _onNewTimeLoading: function(ev) {
                    this._getDataForTime(ev.time);
                    return;
                },
                isReady: function(time) {
                    return (this._currentLoadedTime == time);
                },
                _update: function() {
                    this._baseLayer.setData(this._currentTimeData);
                    return true;
                },
                _getDataForTime: function(time) {
                    delete this._currentTimeData.data;
                    this._currentTimeData.data = [];
                    var data = this.data[time-1] || [];
                    for (var i = 0; i < data.length; i++) {
                        this._currentTimeData.data.push({
                                lat: data[i][0],
                                lng: data[i][1],
                                count: data[i].length>2 ? data[i][2] : this.defaultWeight
                            });
                        }
                    this._currentLoadedTime = time;
                    if (this._timeDimension && time == this._timeDimension.getCurrentTime()
                            && !this._timeDimension.isLoading()) {
                        this._update();
                    }
                    this.fire('timeload', {
                        time: time
                    });
                }
            });

            L.Control.TimeDimensionCustom = L.Control.TimeDimension.extend({
                initialize: function(index, options) {
                    var playerOptions = {
                        buffer: 1,
                        minBufferReady: -1
                        };
                    options.playerOptions = L.extend({}, playerOptions, options.playerOptions || {});
                    L.Control.TimeDimension.prototype.initialize.call(this, options);
                    this.index = index;
                },
                _getDisplayDateFormat: function(date) {
                    return this.index[date.getTime()-1];
                }
            });
            </script>
        {% endmacro %}

        {% macro script(this, kwargs) %}

            var times = {{ this.times_js }};

            {{this._parent.get_name()}}.timeDimension = L.timeDimension(
                {times : times, currentTime: new Date(1)}
            );

            var {{this._control_name}} = new L.Control.TimeDimensionCustom({{ this.index_js }}, {
                autoPlay: {{this.auto_play}},
                backwardButton: {{this.backward_button}},
                displayDate: {{this.display_index}},
                forwardButton: {{this.forward_button}},
                limitMinimumRange: {{this.limit_minimum_range}},
                limitSliders: {{this.limit_sliders}},
                loopButton: {{this.loop_button}},
                maxSpeed: {{this.max_speed}},
                minSpeed: {{this.min_speed}},
                playButton: {{this.play_button}},
                playReverseButton: {{this.play_reverse_button}},
                position: "{{this.position}}",
                speedSlider: {{this.speed_slider}},
                speedStep: {{this.speed_step}},
                styleNS: "{{this.style_NS}}",
                timeSlider: {{this.time_slider}},
                timeSliderDragUpdate: {{this.time_slider_drag_update}},
                timeSteps: {{this.index_steps}}
                })
                .addTo({{this._parent.get_name()}});

                var {{this.get_name()}} = new TDHeatmap({{ this.data_js }},
                {maxValue: {{ this.max_value }},
                 heatmapOptions: {
                        radius: {{this.radius}},
                        blur: {{this.blur}},
                        minOpacity: {{this.min_opacity}},
                        maxOpacity: {{this.max_opacity}},
                        scaleRadius: {{this.scale_radius}},
                        useLocalExtrema: {{this.use_local_extrema}},
                        defaultWeight: 1,
                        {% if this.gradient %}gradient: {{ this.gradient_js }}{% endif %}
                    }
                });

                (function () {
                    var map = {{this._parent.get_name()}}, layer = {{this.get_name()}},
                        control = {{this._control_name}};
                    function sync() {
                        var box = control.getContainer();
                        if (box) { box.style.display = map.hasLayer(layer) ? '' : 'none'; }
                    }
                    map.on('layeradd layerremove', sync);
                    sync();
                })();

        {% endmacro %}
    """)

    def __init__(self, monthly: MonthlyHeat, **kwargs) -> None:
        frames = [f.rows(digits=4) for f in monthly.frames]  # ~10 m: fine for 250 m cells
        super().__init__(frames, index=list(monthly.labels), **kwargs)
        self.monthly = monthly
        self.max_value = monthly.scale
        self.data_js = js_json(frames)
        self.index_js = js_json(list(monthly.labels))
        self.times_js = js_json(self.times)
        self.gradient_js = js_json({str(k): v for k, v in self.gradient.items()}) if self.gradient else "null"

    def _get_self_bounds(self):
        points = [p for frame in self.data for p in frame]
        if not points:
            return [[None, None], [None, None]]
        lats = [p[0] for p in points]
        lons = [p[1] for p in points]
        return [[min(lats), min(lons)], [max(lats), max(lons)]]


# --------------------------------------------------------------------------- layer builders


class CompactHeatMap(plugins.HeatMap):
    """folium's HeatMap with its points as compact JSON (folium writes them with spaces)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.heatLayer(
                {{ this.data_js }},
                {{ this.options|tojavascript }}
            );
        {% endmacro %}
    """)

    def __init__(self, points: WeightedPoints, **kwargs) -> None:
        super().__init__(points.rows(), **kwargs)
        self.points = points
        self.data_js = js_json(self.data)


def heat_layer(
    points: WeightedPoints,
    *,
    name: str,
    show: bool = False,
    overlay: bool = False,
) -> CompactHeatMap:
    """Leaflet.heat over the weighted points (folium's copy scales to the largest cell by itself)."""
    return CompactHeatMap(
        points,
        name=name,
        radius=18,
        blur=15,
        min_opacity=0.35,
        max_zoom=17,
        gradient=HEAT_GRADIENT,
        overlay=overlay,
        show=show,
    )


def animation_layer(
    monthly: MonthlyHeat, *, name: str, show: bool = False, overlay: bool = False
) -> TimeHeatMap:
    return TimeHeatMap(
        monthly,
        name=name,
        radius=22,
        blur=0.85,
        min_opacity=0.05,
        max_opacity=0.8,
        position="bottomleft",
        overlay=overlay,
        show=show,
        auto_play=False,
        max_speed=4,
        speed_step=0.5,
    )
