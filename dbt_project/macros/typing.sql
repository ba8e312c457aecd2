{# Amazon amounts are decimal strings; anything else is NULL here and a quarantine reason in the base model.
   '' needs no nullif first: it is not a decimal (nor a timestamp), so try_cast already makes it NULL. #}
{% macro to_amount(expr) -%}
    try_cast({{ expr }} as {{ money_type() }})
{%- endmacro %}

{# Money, one type throughout the marts (their contracts say so): 18 digits fit in 64 bits, which DuckDB sums and
   compares fastest; 4 decimals hold every amount Amazon gives (at most 2, none for JPY) and a unit price derived
   from a v0 line total; 14 integer digits hold any order's total in any currency (Amazon's largest are in JPY and
   INR, far below 10^14). A sum is cast back to it, so no column is DECIMAL(38,4) by accident. #}
{% macro money_type() -%}
    decimal(18, 4)
{%- endmacro %}

{% macro to_utc(expr) -%}
    try_cast({{ expr }} as timestamptz)
{%- endmacro %}

{# Why an amount cannot be typed, or NULL when it can (or is absent, or ''). The cast is tested first: it is what
   every amount goes through anyway, and the text is looked at only when the cast failed. #}
{% macro amount_problem(expr, label) -%}
    case when {{ to_amount(expr) }} is null and {{ expr }} <> '' then
        case when try_cast({{ expr }} as double) is not null then '{{ label }} amount out of range: '
             else 'non-numeric {{ label }} amount: ' end || {{ expr }}
    end
{%- endmacro %}

{# The sum of an item's proceeds breakdowns of one type (ITEM, TAX, SHIPPING, DISCOUNT...), NULL when none. #}
{% macro breakdown_sum(item, type) -%}
    list_sum(list_transform({{ item }}.proceeds.breakdowns,
                            lambda b: case when b.type = '{{ type }}' then {{ to_amount('b.subtotal.amount') }} end))
{%- endmacro %}

{# The smallest unit of a currency: 1 for the zero-decimal currencies (JPY among Amazon's), 0.01 for the rest. #}
{% macro minor_unit(currency) -%}
    case when {{ currency }} in ('JPY', 'KRW', 'CLP', 'ISK', 'VND') then 1 else 0.01 end
{%- endmacro %}

{# A list of values as SQL string literals, for `in (...)`. #}
{% macro quoted(values) -%}
    {%- for v in values %}'{{ v }}'{{ ', ' if not loop.last }}{% endfor -%}
{%- endmacro %}

{# A returns report's day: ISO (what the emulator writes), or a day-month-year or US form. Amazon does not document
   the MFN file's date format, so the other forms are a guess kept on purpose; NULL (quarantined) when it is none. #}
{% macro return_date(expr) -%}
    coalesce(try_cast(left({{ expr }}, 10) as date),
             cast(try_strptime({{ expr }}, ['%d-%b-%Y', '%m/%d/%Y', '%d.%m.%Y']) as date))
{%- endmacro %}
